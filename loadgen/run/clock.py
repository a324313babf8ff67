"""Time for the engine, behind a small interface so tests can run it on a fake clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` (on the event loop) after `seconds`, unless cancelled first."""
        ...


class MonotonicClock:
    """The real clock: perf_counter for reading, the event loop's timers for waiting."""

    # perf_counter itself, not a method calling it: read several times per request
    now = staticmethod(time.perf_counter)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(seconds, callback)


class _FakeTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Virtual time that only moves when every task is waiting on it.

    Run the code under test together with `drive()`: whenever the loop has gone quiet,
    `drive` jumps to the earliest pending wake-up. No real sleeping, fully deterministic.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(callback)
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_later(seconds, partial(_wake, future))
        try:
            await future
        finally:
            timer.cancel()  # a cancelled sleep must not move time on

    async def drive(self, until_done: asyncio.Future[Any], settle_rounds: int = 20) -> None:
        """Advance time until `until_done` completes."""
        while not until_done.done():
            for _ in range(settle_rounds):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if until_done.done():
                return
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            if not self._timers:
                await asyncio.sleep(0)
                continue
            wake, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, wake)
            timer.cancelled = True  # fired: a later cancel() is a no-op
            timer.callback()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
