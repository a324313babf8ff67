"""The run-time rate cap: retries included, never more than the approved peak.

aiolimiter's leaky bucket paces the sends (it holds 10 ms of the cap, at least one
request). But it decides on the event loop's clock, and a busy loop iteration or an OS
pause can delay some sends so they leave closer together than it accounted for, which a
pipeline would see as a burst. So for caps up to `WINDOW_LIMIT` req/s a sliding window of
real send times also holds: at most floor(cap) sends in any `1 s + margin` window. A cap
equal to the planned rate therefore leaves first attempts no slack: approve a little above
the peak (the README says so).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from types import TracebackType

from aiolimiter import AsyncLimiter

WINDOW_LIMIT = 10_000.0  # above this, one request more or less per second is noise
MARGIN_S = 0.025  # how much the loop or the OS may bunch sends together and still be held


class RateCap:
    """An async context manager to enter before every send."""

    def __init__(self, rate: float, margin_s: float = MARGIN_S) -> None:
        if not rate > 0:
            raise ValueError(f"a rate cap must be positive, not {rate}")
        burst = max(1.0, rate / 100)
        self._bucket = AsyncLimiter(burst, burst / rate)
        self._window_s = 1.0 + margin_s
        size = max(1, math.floor(rate))
        self._sent: deque[float] | None = deque(maxlen=size) if rate <= WINDOW_LIMIT else None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._bucket.acquire()
        sent = self._sent
        if sent is None:
            return
        async with self._lock:  # one waiter at a time, so two cannot take the same slot
            while len(sent) == sent.maxlen:
                wait = sent[0] + self._window_s - time.perf_counter()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)  # uvloop may wake up to ~1 ms early: check again
            sent.append(time.perf_counter())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
