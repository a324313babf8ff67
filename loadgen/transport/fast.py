"""The fast transport: an asyncio Protocol per connection, httptools parsing, HTTP/1.1 keep-alive.

Built for tens of thousands of requests a second on one core under uvloop, so the hot path
(`submit` finds an idle connection, the response arrives) runs as plain callbacks, with no
task, future or timer per request: one bytes join per request, cached request heads
(`wire.py`), and no logging. Instead of a timer per request, one sweeper checks every
in-flight deadline a few times a second, so a timeout fires up to `sweep_every_s` late.

The connections live in a `ConnectionPool` (`pool.py`): `max_connections` slots, idle
connections, and the senders waiting for one. This module is the request path: it encodes
a request, puts it on a connection (`_begin`, the one way both `send` and `submit` start a
request), and decides what an outcome means. `submit` takes the slow paths (opening a
connection, the one retry below) in a task, as `send` does.

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
import ssl
import time
from collections.abc import Callable
from functools import partial
from typing import cast

from loadgen.inputs.origin import parse_origin
from loadgen.transport.connection import Connection, StaleConnection
from loadgen.transport.contract import (
    OnDone,
    Outcome,
    RequestSpec,
    Response,
    TransportError,
)
from loadgen.transport.pool import ConnectionPool
from loadgen.transport.socket_layer import client_ssl_context
from loadgen.transport.task_submitter import TaskSubmitter
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
        tls = client_ssl_context(verify_tls, ssl_context) if self._origin.tls else None
        self._timeout_s = timeout_s
        self.sweep_every_s = max(0.001, min(0.05, timeout_s / 10))
        self._pool = pool = ConnectionPool(
            self._origin,
            tls,
            max_connections,
            begin_queued=self._begin_submitted,
            open_queued=self._open_for,
        )
        # The pool's members every request uses, bound once: a request then costs no more
        # attribute lookups than when the pool lived in this class.
        self._busy = pool.busy
        self._take_idle = pool.take_idle
        self._finish = pool.finish
        self._discard = pool.discard
        self._heads: dict[_HeadKey, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._slow = TaskSubmitter(self.send)

    @property
    def open_connections(self) -> int:
        """Connections open or being opened (for tests and the live display)."""
        return self._pool.open

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
            pool_full = self._pool.full
            before = time.perf_counter()
            conn = await self._pool.acquire(deadline, fresh=False)
            if pool_full:
                queued = time.perf_counter() - before
        return await self._exchange(loop, conn, data, deadline, head_only, queued)

    def submit(self, request: RequestSpec, on_done: OnDone) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if self._closed:  # `send` fails it, in a task: never a callback from inside submit
            self._slow.submit(request, on_done)
            return
        deadline = loop.time() + self._timeout_s
        conn = self._take_idle()
        if conn is not None:  # the hot path: `_begin_submitted` written out, one call less
            data = self._encode(request)
            head_only = request.method == "HEAD"
            notify = partial(self._submitted, conn, data, deadline, head_only, on_done, 0.0)
            self._begin(conn, data, deadline, head_only, notify)
        elif self._pool.take_slot():  # a slot is free: open its connection in a task
            self._open_for(request, on_done, deadline)
        else:  # every connection busy: wait in line for the next one released
            self._pool.line.append((request, on_done, deadline, time.perf_counter()))
            if self._sweeper is None:
                self._arm_sweeper()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._slow.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._pool.close()
        await asyncio.sleep(0)  # let connection_lost callbacks run before the loop may close

    # starting a request

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

    def _begin(
        self,
        conn: Connection,
        data: bytes,
        deadline: float,
        head_only: bool,
        notify: Callable[[Outcome], None],
    ) -> None:
        """Send `data` on `conn`: the one way every request starts; `notify` gets its outcome."""
        conn.begin(notify, deadline, head_only)
        conn.transport.write(data)
        self._busy.add(conn)
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
        """Start a submitted request on `conn`; `_submitted` then reports to `on_done`."""
        data = self._encode(request)
        head_only = request.method == "HEAD"
        notify = partial(self._submitted, conn, data, deadline, head_only, on_done, queued)
        self._begin(conn, data, deadline, head_only, notify)

    def _open_for(self, request: RequestSpec, on_done: OnDone, deadline: float) -> None:
        """Open a connection for a submitted request in the slot held for it, in a task."""
        self._slow.run(self._send_opening(request, deadline), on_done)

    async def _send_opening(self, request: RequestSpec, deadline: float) -> Response:
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        conn = await self._pool.connect(deadline)
        data, head_only = self._encode(request), request.method == "HEAD"
        return await self._exchange(loop, conn, data, deadline, head_only, 0.0)

    # what an outcome means

    async def _exchange(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: Connection,
        data: bytes,
        deadline: float,
        head_only: bool,
        queued: float,
        *,
        may_retry: bool = True,
    ) -> Response:
        """`send`'s way: begin on `conn` and await the outcome; a cancelled request drops it."""
        waiter: asyncio.Future[Response] = loop.create_future()
        self._begin(conn, data, deadline, head_only, _settles(waiter))
        try:
            response = await waiter
        except BaseException as exc:
            self._discard(conn)
            if may_retry and isinstance(exc, StaleConnection):
                return await self._retry(loop, data, deadline, head_only)
            raise
        self._finish(conn)
        return _with_queued(response, queued) if queued else response

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
        """`submit`'s way: the connection reports `outcome`; settle it, then tell `on_done`."""
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

    async def _retry(
        self, loop: asyncio.AbstractEventLoop, data: bytes, deadline: float, head_only: bool
    ) -> Response:
        """The one retry, on a newly opened connection; its failure is final."""
        conn = await self._pool.acquire(deadline, fresh=True)
        return await self._exchange(loop, conn, data, deadline, head_only, 0.0, may_retry=False)

    # timeouts

    def _arm_sweeper(self) -> None:
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        self._sweeper = loop.call_later(self.sweep_every_s, self._sweep)

    def _sweep(self) -> None:
        """Time out requests past their deadline; stops itself when nothing is in flight."""
        self._sweeper = None
        line = self._pool.line  # in submission order, so deadlines only grow
        if not (self._busy or line) or self._closed:
            return
        now = cast(asyncio.AbstractEventLoop, self._loop).time()
        # The line first: a connection failed below must not go to a request already late.
        while line and line[0][2] <= now:
            on_done = line.popleft()[1]
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
