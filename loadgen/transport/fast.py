"""The fast transport: an asyncio Protocol per connection, httptools parsing, HTTP/1.1 keep-alive.

Built for tens of thousands of requests a second on one core under uvloop, so the hot path
(`submit` finds an idle connection, the response arrives) runs as plain callbacks, with no
task, future or timer per request: one bytes join per request, cached request heads
(`wire.py`), no per-request timer
(one sweeper checks every in-flight deadline a few times a second, so a timeout fires up
to `sweep_every_s` late), no logging.

Pool: `max_connections` slots; a slot is an idle connection, a busy one, or one being
opened. A sender takes the most recently used idle connection, else opens one, else
waits for a slot (rare: the engine bounds concurrency itself). `submit` takes those slow
paths (and the one retry below) in a task, as `send` does.

Failure rules, matching what mainstream clients do:
- A request that fails on a *reused* connection before any response byte arrived (the
  server closed an idle keep-alive connection just as it was sent) is retried once on a
  fresh connection. Nothing else is ever retried.
- `timeout_s` bounds the whole request (waiting for a slot, connecting, TLS, response);
  a timed-out connection is discarded.
- A connection is reused only if the server allowed it (no `Connection: close`, HTTP/1.1).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import cast

from loadgen.transport.base import (
    OnDone,
    Outcome,
    RequestSpec,
    Response,
    TaskSubmitter,
    TransportError,
)
from loadgen.transport.common import client_ssl_context, os_error_kind, parse_origin
from loadgen.transport.connection import Connection, StaleConnection
from loadgen.transport.wire import HEAD_CACHE_LIMIT, encode_head

_HeadKey = tuple[str, str, tuple[tuple[str, str], ...]]


class FastTransport:
    """HTTP/1.1 keep-alive client for one origin; see the module docstring for the rules."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 64,
        timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        verify_tls: bool = True,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self._origin = parse_origin(url)
        self._ssl = client_ssl_context(verify_tls, ssl_context) if self._origin.tls else None
        self._max = max_connections
        self._timeout_s = timeout_s
        self.sweep_every_s = max(0.001, min(0.05, timeout_s / 10))
        self._open = 0  # slots held: idle + busy + connecting connections
        self._idle: deque[Connection] = deque()
        self._busy: set[Connection] = set()
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._heads: dict[_HeadKey, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._slow = TaskSubmitter(self.send)
        # submitted while every connection was busy: (request, on_done, deadline, since)
        self._queued: deque[tuple[RequestSpec, OnDone, float, float]] = deque()
        self.last_response = Response(0)  # never a real status; see Connection._response

    @property
    def open_connections(self) -> int:
        """Connections open or being opened (for tests and the live display)."""
        return self._open

    async def send(self, request: RequestSpec) -> Response:
        if self._closed:
            raise TransportError("closed", "transport is closed")
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        data = self._encode(request)
        deadline = loop.time() + self._timeout_s
        head_only = request.method == "HEAD"
        queued = 0.0
        conn = self._take_idle()
        if conn is None:
            pool_full = self._open >= self._max
            before = time.perf_counter()
            conn = await self._acquire(deadline, fresh=False)
            if pool_full:
                queued = time.perf_counter() - before
        return await self._exchange(loop, conn, data, deadline, head_only, queued)

    async def _exchange(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: Connection,
        data: bytes,
        deadline: float,
        head_only: bool,
        queued: float,
    ) -> Response:
        waiter = self._start(loop, conn, data, deadline, head_only)
        try:
            response = await waiter
        except BaseException as exc:
            self._discard(conn)
            if not isinstance(exc, StaleConnection):
                raise
            return await self._retry(loop, data, deadline, head_only)
        self._finish(conn)
        return _with_queued(response, queued) if queued else response

    async def _send_opening(self, request: RequestSpec, deadline: float) -> Response:
        """`submit`'s way when a slot is free: open a connection in the slot held for it."""
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        conn = await self._connect(deadline)
        data, head_only = self._encode(request), request.method == "HEAD"
        return await self._exchange(loop, conn, data, deadline, head_only, 0.0)

    def submit(self, request: RequestSpec, on_done: OnDone) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if self._closed:  # `send` fails it, in a task: never a callback from inside submit
            self._slow.submit(request, on_done)
            return
        deadline = loop.time() + self._timeout_s
        conn = self._take_idle()
        if conn is not None:
            self._begin_submitted(conn, request, on_done, deadline, 0.0)
        elif self._open < self._max:  # take a slot now, open its connection in a task
            self._open += 1
            self._slow.run(self._send_opening(request, deadline), on_done)
        else:  # every connection busy: wait in line for the next one released
            self._queued.append((request, on_done, deadline, time.perf_counter()))
            if self._sweeper is None:
                self._arm_sweeper()

    def _begin_submitted(
        self,
        conn: Connection,
        request: RequestSpec,
        on_done: OnDone,
        deadline: float,
        queued: float,
    ) -> None:
        data = self._encode(request)
        head_only = request.method == "HEAD"
        notify = partial(self._submitted, conn, data, deadline, head_only, on_done, queued)
        conn.begin(notify, deadline, head_only)
        conn.transport.write(data)
        self._busy.add(conn)
        if self._sweeper is None:
            self._arm_sweeper()

    def _submitted(
        self,
        conn: Connection,
        data: bytes,
        deadline: float,
        head_only: bool,
        on_done: OnDone,
        queued: float,
        outcome: Outcome,
    ) -> None:
        if isinstance(outcome, StaleConnection):
            self._discard(conn)
            loop = cast(asyncio.AbstractEventLoop, self._loop)
            self._slow.run(self._retry(loop, data, deadline, head_only), on_done)
            return
        if isinstance(outcome, TransportError):
            self._discard(conn)
        else:
            self._finish(conn)
            if queued:
                outcome = _with_queued(outcome, queued)
        on_done(outcome)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._slow.cancel()
        while self._queued:
            on_done = self._queued.popleft()[1]
            on_done(TransportError("closed", "transport closed"))
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TransportError("closed", "transport closed"))
        for conn in list(self._busy):
            conn.fail("closed", "transport closed while the request was in flight")
        while self._idle:
            self._idle.pop().abort()
        await asyncio.sleep(0)  # let connection_lost callbacks run before the loop may close

    # the request path

    def _encode(self, request: RequestSpec) -> bytes:
        key = (request.method, request.path, request.headers)
        head = self._heads.get(key)
        if head is None:
            head = self._remember_head(key, request)
        body = request.body
        return b"".join((head, b"%d\r\n\r\n" % len(body), body))

    def _remember_head(self, key: _HeadKey, request: RequestSpec) -> bytes:
        head = encode_head(self._origin, request)
        if len(self._heads) >= HEAD_CACHE_LIMIT:
            self._heads.clear()
        self._heads[key] = head
        return head

    def _take_idle(self) -> Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.alive():
                return conn
            conn.abort()  # closing but connection_lost not yet run: its slot is freed here
            self._free_slot()
        return None

    def _start(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: Connection,
        data: bytes,
        deadline: float,
        head_only: bool,
    ) -> asyncio.Future[Response]:
        """Send `data` on `conn`; the future resolves with the response (or the error)."""
        waiter: asyncio.Future[Response] = loop.create_future()
        conn.begin(_settles(waiter), deadline, head_only)
        conn.transport.write(data)
        self._busy.add(conn)
        if self._sweeper is None:
            self._arm_sweeper()
        return waiter

    def _finish(self, conn: Connection) -> None:
        """The response is in: keep the connection if the server allows, else drop it."""
        self._busy.discard(conn)
        if conn.keep_alive and not conn.transport.is_closing() and not self._closed:
            conn.reused = True
            self._release(conn)
        else:
            conn.abort()
            self._free_slot()

    def _discard(self, conn: Connection) -> None:
        """The request failed or was cancelled: the connection's state is unknown, drop it."""
        self._busy.discard(conn)
        conn.abort()
        self._free_slot()

    async def _retry(
        self, loop: asyncio.AbstractEventLoop, data: bytes, deadline: float, head_only: bool
    ) -> Response:
        """The one retry, on a newly opened connection; its failure is final."""
        conn = await self._acquire(deadline, fresh=True)
        waiter = self._start(loop, conn, data, deadline, head_only)
        try:
            response = await waiter
        except BaseException:
            self._discard(conn)
            raise
        self._finish(conn)
        return response

    # the pool

    async def _acquire(self, deadline: float, *, fresh: bool) -> Connection:
        """A connection for one request; `fresh` means a newly opened one."""
        if self._open < self._max:
            self._open += 1
            return await self._connect(deadline)
        if fresh and self._idle:  # full: give up the oldest idle connection's slot
            self._idle.popleft().abort()
            return await self._connect(deadline)
        handed = await self._wait_for_slot(deadline)
        if handed is not None:
            if not fresh and handed.alive():
                return handed
            handed.abort()  # keep the slot, replace the connection
        return await self._connect(deadline)

    async def _wait_for_slot(self, deadline: float) -> Connection | None:
        """Wait for a released connection (returned) or a freed slot (None)."""
        waiter: asyncio.Future[Connection | None] = cast(
            asyncio.AbstractEventLoop, self._loop
        ).create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result())  # handed over just as we gave up
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise TransportError("timeout", "no connection free within the timeout") from None
            raise

    def _give_back(self, handed: Connection | None) -> None:
        if handed is not None and handed.alive() and not self._closed:
            self._release(handed)
            return
        if handed is not None:
            handed.abort()
        self._free_slot()

    async def _connect(self, deadline: float) -> Connection:
        """Open a connection in a slot the caller holds; on failure the slot is freed."""
        try:
            async with asyncio.timeout_at(deadline):
                conn = await self._open_connection()
        except BaseException as exc:
            self._free_slot()
            if isinstance(exc, TimeoutError):
                raise TransportError("timeout", "connect timed out") from None
            if isinstance(exc, OSError):
                raise TransportError(os_error_kind(exc), f"connect failed: {exc}") from exc
            if isinstance(exc, Exception) and not isinstance(exc, TransportError):
                raise TransportError("other", f"connect failed: {exc!r}") from exc
            raise
        if self._closed:
            conn.abort()
            self._free_slot()
            raise TransportError("closed", "transport closed while connecting")
        return conn

    async def _open_connection(self) -> Connection:
        """Try each resolved address in turn; the first failure says why if all fail."""
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        origin = self._origin
        infos = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        first_error: OSError | None = None
        for family, _, _, _, address in infos:
            try:
                _, conn = await loop.create_connection(
                    lambda: Connection(self),
                    str(address[0]),
                    origin.port,
                    family=family,
                    ssl=self._ssl,
                    server_hostname=origin.host if self._ssl is not None else None,
                )
                return conn
            except ssl.SSLError:
                raise  # the server answered: another address will not fix the certificate
            except OSError as exc:
                first_error = first_error or exc
        raise first_error or OSError(f"no address for {origin.host}")

    def _release(self, conn: Connection) -> None:
        """Hand a reusable connection to the first live waiter, else to the first request
        in line, else park it idle."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if self._queued:
            request, on_done, deadline, since = self._queued.popleft()
            self._begin_submitted(conn, request, on_done, deadline, time.perf_counter() - since)
            return
        self._idle.append(conn)

    def _free_slot(self) -> None:
        """A connection is gone: its slot goes to the first live waiter, else back to the pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self._queued and not self._closed:  # the first in line opens a connection here
            request, on_done, deadline, _ = self._queued.popleft()
            self._slow.run(self._send_opening(request, deadline), on_done)
            return
        self._open -= 1

    def idle_lost(self, conn: Connection) -> None:
        """A connection closed while no request was on it: if it was idle, free its slot."""
        if conn in self._idle:  # else its request's path already accounted for it
            self._idle.remove(conn)
            self._free_slot()

    def _arm_sweeper(self) -> None:
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        self._sweeper = loop.call_later(self.sweep_every_s, self._sweep)

    def _sweep(self) -> None:
        """Time out requests past their deadline; stops itself when nothing is in flight."""
        self._sweeper = None
        if not (self._busy or self._queued) or self._closed:
            return
        now = cast(asyncio.AbstractEventLoop, self._loop).time()
        # The line first: a connection failed below must not go to a request already late.
        queued = self._queued  # in submission order, so deadlines only grow
        while queued and queued[0][2] <= now:
            on_done = queued.popleft()[1]
            on_done(TransportError("timeout", "no connection free within the timeout"))
        for conn in [c for c in self._busy if c.deadline <= now]:
            conn.fail("timeout", f"no complete response within {self._timeout_s:g}s")
        self._arm_sweeper()


def _settles(waiter: asyncio.Future[Response]) -> Callable[[Outcome], None]:
    """A connection callback that resolves `waiter` (for `send`, which awaits it)."""

    def notify(outcome: Outcome) -> None:
        if waiter.done():
            return
        if isinstance(outcome, TransportError):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)

    return notify


def _with_queued(response: Response, queued_s: float) -> Response:
    # dataclasses.replace costs ~1.5 µs; this runs for every request while the pool is full
    return Response(response.status, response.retry_after_s, response.body, queued_s)
