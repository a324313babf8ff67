"""The connection pool's own contract, on real loopback connections.

The conformance suite checks the pool through the transport (from the server's side); these
tests check what the pool promises its transport: slots stay bounded and counted, and a
released connection or a freed slot goes to an awaiting sender first, then to the first
request in line, and only then back to the pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest

from loadgen.transport import OnDone, Outcome, RequestSpec, TransportError, parse_origin
from loadgen.transport.connection import Connection
from loadgen.transport.pool import ConnectionPool

REQUEST = RequestSpec("GET", "/", ())


@dataclass
class Hooks:
    """What the pool handed back to its transport."""

    begun: list[tuple[Connection, RequestSpec, float]] = field(default_factory=list)
    opened: list[RequestSpec] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def begin_queued(
        self,
        conn: Connection,
        request: RequestSpec,
        on_done: OnDone,
        deadline: float,
        queued: float,
    ) -> None:
        self.begun.append((conn, request, queued))

    def open_queued(self, request: RequestSpec, on_done: OnDone, deadline: float) -> None:
        self.opened.append(request)


class RecordingPool(ConnectionPool):
    """A pool that remembers every connection it opened, so that each test closes them all."""

    __slots__ = ("opened",)

    def __init__(self, url: str, hooks: Hooks, max_connections: int) -> None:
        super().__init__(
            parse_origin(url),
            None,
            max_connections,
            begin_queued=hooks.begin_queued,
            open_queued=hooks.open_queued,
        )
        self.opened: list[Connection] = []

    async def connect(self, deadline: float) -> Connection:
        conn = await super().connect(deadline)
        self.opened.append(conn)
        return conn


@asynccontextmanager
async def listener(*, close_after_s: float | None = None) -> AsyncIterator[str]:
    """A loopback server that holds each connection open (or closes it after a while)."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with suppress(TimeoutError, ConnectionError):  # the client left, or time is up
            await asyncio.wait_for(reader.read(), close_after_s)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        for _ in range(3):  # let the closed transports' connection_lost callbacks run
            await asyncio.sleep(0)


def run(body: Callable[[ConnectionPool, Hooks], Awaitable[Any]], **options: Any) -> Hooks:
    """Run `body` with a pool of `max_connections` (default 1) on a loopback listener."""
    hooks = Hooks()
    close_after_s = options.pop("close_after_s", None)

    async def main() -> None:
        async with listener(close_after_s=close_after_s) as url:
            pool = RecordingPool(url, hooks, options.get("max_connections", 1))
            try:
                await asyncio.wait_for(body(pool, hooks), 5.0)
            finally:
                pool.close()
                for conn in pool.opened:
                    conn.abort()

    asyncio.run(main())
    return hooks


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


def enqueue(pool: ConnectionPool, hooks: Hooks, *, waited_s: float = 0.0) -> None:
    """Put a request in line as if submitted `waited_s` ago."""
    since = time.perf_counter() - waited_s
    pool.line.append((REQUEST, hooks.outcomes.append, deadline(), since))


def test_slots_are_bounded_and_counted() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        assert [pool.take_slot() for _ in range(3)] == [True, True, False]
        assert (pool.open, pool.full) == (2, True)
        pool.free_slot()  # nobody waits: the slot goes back
        assert (pool.open, pool.full) == (1, False)

    run(body, max_connections=2)


def test_a_released_connection_goes_to_an_awaiting_sender_before_the_line() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        conn = await pool.acquire(deadline(), fresh=False)
        waiting = asyncio.ensure_future(pool.acquire(deadline(), fresh=False))
        await asyncio.sleep(0)  # the sender is now waiting for a slot
        enqueue(pool, hooks)
        pool.release(conn)
        assert await waiting is conn
        assert hooks.begun == [] and len(pool.line) == 1  # the line still waits
        assert pool.open == 1

    run(body)


def test_a_released_connection_goes_to_the_line_before_the_idle_stack() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        conn = await pool.acquire(deadline(), fresh=False)
        enqueue(pool, hooks, waited_s=1.0)
        pool.release(conn)
        assert not pool.idle and not pool.line
        assert [(c, r, queued >= 1.0) for c, r, queued in hooks.begun] == [(conn, REQUEST, True)]

    run(body)


def test_idle_connections_are_reused_most_recent_first() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        first = await pool.acquire(deadline(), fresh=False)
        second = await pool.acquire(deadline(), fresh=False)
        pool.release(first)
        pool.release(second)
        assert pool.take_idle() is second  # the warmest connection
        assert pool.take_idle() is first
        assert pool.take_idle() is None
        assert pool.open == 2  # taking an idle connection keeps its slot

    run(body, max_connections=2)


def test_a_freed_slot_goes_to_the_line_which_opens_a_connection_in_it() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        conn = await pool.acquire(deadline(), fresh=False)
        enqueue(pool, hooks)
        pool.discard(conn)
        assert hooks.opened == [REQUEST]
        assert pool.open == 1  # the slot was handed over, not given back

    run(body)


def test_a_closing_idle_connection_is_skipped_and_its_slot_freed() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        conn = await pool.acquire(deadline(), fresh=False)
        pool.release(conn)
        conn.transport.close()  # closing, but connection_lost has not run yet
        assert pool.take_idle() is None
        assert pool.open == 0

    run(body)


def test_an_idle_connection_closed_by_the_server_frees_its_slot() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        pool.release(await pool.acquire(deadline(), fresh=False))
        for _ in range(200):  # the server closes it after 50 ms
            if pool.open == 0:
                break
            await asyncio.sleep(0.01)
        assert (pool.open, len(pool.idle)) == (0, 0)

    run(body, close_after_s=0.05)


def test_a_fresh_connection_replaces_the_oldest_idle_one_when_full() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        old = await pool.acquire(deadline(), fresh=False)
        warm = await pool.acquire(deadline(), fresh=False)
        pool.release(old)
        pool.release(warm)
        fresh = await pool.acquire(deadline(), fresh=True)
        assert fresh is not old and fresh is not warm
        assert old.transport.is_closing() and list(pool.idle) == [warm]
        assert pool.open == 2

    run(body, max_connections=2)


def test_waiting_for_a_slot_ends_at_the_deadline_and_leaves_no_waiter() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        conn = await pool.acquire(deadline(), fresh=False)
        with pytest.raises(TransportError, match="no connection free") as caught:
            await pool.acquire(deadline(0.05), fresh=False)
        assert caught.value.kind == "timeout"
        pool.release(conn)
        assert list(pool.idle) == [conn]  # the sender that gave up got nothing

    run(body)


def test_a_failed_connect_frees_its_slot() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        with pytest.raises(TransportError) as caught:
            await pool.acquire(deadline(), fresh=False)
        assert caught.value.kind == "refused"
        assert pool.open == 0

    async def main() -> None:
        async with listener() as url:
            pass  # the listener is gone: its port now refuses
        hooks = Hooks()
        await body(RecordingPool(url, hooks, 1), hooks)

    asyncio.run(main())


def test_close_fails_the_line_and_the_waiters_and_drops_idle_connections() -> None:
    async def body(pool: ConnectionPool, hooks: Hooks) -> None:
        await pool.acquire(deadline(), fresh=False)
        idle = await pool.acquire(deadline(), fresh=False)
        pool.release(idle)
        waiting = asyncio.ensure_future(pool.acquire(deadline(), fresh=False))
        await asyncio.sleep(0)  # full (acquire never takes idle ones): the sender waits
        enqueue(pool, hooks)
        pool.close()
        with pytest.raises(TransportError, match="closed"):
            await waiting
        assert [o.kind for o in hooks.outcomes if isinstance(o, TransportError)] == ["closed"]
        assert len(hooks.outcomes) == 1 and not pool.line
        assert idle.transport.is_closing() and not pool.idle

    run(body, max_connections=2)
