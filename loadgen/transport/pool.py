"""The fast transport's connection pool: `max_connections` slots, and who gets the next one.

A slot is an idle connection, a busy one (a request on it), or one being opened. A sender
takes the most recently used idle connection (`take_idle`), else a free slot to open one
in, else waits (rare: the engine bounds concurrency itself). Two kinds wait: an awaiting
`send` (a future in `waiters`) and a submitted request (an entry in `line`, no task). A
released connection goes to the first live waiter, else to the first request in line, else
back to the idle stack; a freed slot goes the same way. The pool never sees a request's
bytes: it hands line entries back to its transport through the two callbacks it was built
with. Timeouts and retries are the transport's.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable

from loadgen.inputs.origin import Origin
from loadgen.transport.connection import Connection
from loadgen.transport.contract import OnDone, RequestSpec, Response, TransportError
from loadgen.transport.socket_layer import os_error_kind

# A request submitted while every connection was busy: (request, on_done, deadline, since),
# `since` a perf_counter reading, so its time in line can be reported apart.
Queued = tuple[RequestSpec, OnDone, float, float]
# (connection, request, on_done, deadline, seconds in line): start it on that connection
BeginQueued = Callable[[Connection, RequestSpec, OnDone, float, float], None]
# (request, on_done, deadline): open a connection for it in the slot just handed over
OpenQueued = Callable[[RequestSpec, OnDone, float], None]


class ConnectionPool:
    """Slots, idle connections and waiters for one origin; see the module docstring."""

    __slots__ = (
        "_begin_queued",
        "_max",
        "_open_queued",
        "_origin",
        "_ssl",
        "busy",
        "closed",
        "idle",
        "last_response",
        "line",
        "open",
        "waiters",
    )

    def __init__(
        self,
        origin: Origin,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
        *,
        begin_queued: BeginQueued,
        open_queued: OpenQueued,
    ) -> None:
        self._origin, self._ssl, self._max = origin, ssl_context, max_connections
        self._begin_queued, self._open_queued = begin_queued, open_queued
        self.open = 0  # slots held: idle + busy + connecting connections
        self.idle: deque[Connection] = deque()
        self.busy: set[Connection] = set()  # a request on each; the transport adds them
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.line: deque[Queued] = deque()  # in submission order, so deadlines only grow
        self.closed = False
        self.last_response = Response(0)  # never a real status; see Connection._response

    @property
    def full(self) -> bool:
        """Every slot is held: a new request must wait for one."""
        return self.open >= self._max

    def take_slot(self) -> bool:
        """Hold a free slot for a connection the caller opens (`connect`); False if full."""
        if self.open < self._max:
            self.open += 1
            return True
        return False

    def take_idle(self) -> Connection | None:
        """The most recently used idle connection still open, if any."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.alive():
                return conn
            conn.abort()  # closing but connection_lost not yet run: its slot is freed here
            self.free_slot()
        return None

    def finish(self, conn: Connection) -> None:
        """The response is in: keep the connection if the server allows, else drop it."""
        self.busy.discard(conn)
        if conn.keep_alive and not conn.transport.is_closing() and not self.closed:
            conn.reused = True
            self.release(conn)
        else:
            conn.abort()
            self.free_slot()

    def discard(self, conn: Connection) -> None:
        """The request failed or was cancelled: the connection's state is unknown, drop it."""
        self.busy.discard(conn)
        conn.abort()
        self.free_slot()

    async def acquire(self, deadline: float, *, fresh: bool) -> Connection:
        """A connection for one request; `fresh` means a newly opened one."""
        if self.take_slot():
            return await self.connect(deadline)
        if fresh and self.idle:  # full: give up the oldest idle connection's slot
            self.idle.popleft().abort()
            return await self.connect(deadline)
        handed = await self._wait_for_slot(deadline)
        if handed is not None:
            if not fresh and handed.alive():
                return handed
            handed.abort()  # keep the slot, replace the connection
        return await self.connect(deadline)

    async def _wait_for_slot(self, deadline: float) -> Connection | None:
        """Wait for a released connection (returned) or a freed slot (None)."""
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
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
        if handed is not None and handed.alive() and not self.closed:
            self.release(handed)
            return
        if handed is not None:
            handed.abort()
        self.free_slot()

    async def connect(self, deadline: float) -> Connection:
        """Open a connection in a slot the caller holds; on failure the slot is freed."""
        try:
            async with asyncio.timeout_at(deadline):
                conn = await self._open_connection()
        except BaseException as exc:
            self.free_slot()
            if isinstance(exc, TimeoutError):
                raise TransportError("timeout", "connect timed out") from None
            if isinstance(exc, OSError):
                raise TransportError(os_error_kind(exc), f"connect failed: {exc}") from exc
            if isinstance(exc, Exception) and not isinstance(exc, TransportError):
                raise TransportError("other", f"connect failed: {exc!r}") from exc
            raise
        if self.closed:
            conn.abort()
            self.free_slot()
            raise TransportError("closed", "transport closed while connecting")
        return conn

    async def _open_connection(self) -> Connection:
        """Try each resolved address in turn; the first failure says why if all fail."""
        loop = asyncio.get_running_loop()
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

    def release(self, conn: Connection) -> None:
        """Hand a reusable connection to the first live waiter, else to the first request
        in line, else park it idle."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if self.line:
            request, on_done, deadline, since = self.line.popleft()
            self._begin_queued(conn, request, on_done, deadline, time.perf_counter() - since)
            return
        self.idle.append(conn)

    def free_slot(self) -> None:
        """A connection is gone: its slot goes to the first live waiter, else to the first
        request in line (which opens a connection in it), else back to the pool."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self.line and not self.closed:
            request, on_done, deadline, _ = self.line.popleft()
            self._open_queued(request, on_done, deadline)
            return
        self.open -= 1

    def idle_lost(self, conn: Connection) -> None:
        """A connection closed while no request was on it: if it was idle, free its slot."""
        if conn in self.idle:  # else its request's path already accounted for it
            self.idle.remove(conn)
            self.free_slot()

    def close(self) -> None:
        """Fail everything waiting or in flight with "closed" and drop every connection."""
        self.closed = True
        while self.line:
            on_done = self.line.popleft()[1]
            on_done(TransportError("closed", "transport closed"))
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(TransportError("closed", "transport closed"))
        for conn in list(self.busy):
            conn.fail("closed", "transport closed while the request was in flight")
        while self.idle:
            self.idle.pop().abort()
