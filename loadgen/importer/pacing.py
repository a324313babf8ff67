"""Requests per second: a ramp, under a hard cap that holds in every 1 s window.

Two gates, both passed by every request, retries included:

- the ramp: request i may start once the area under the rate curve reaches i (the
  profile's stages, or the default gentle ramp), as `run` plans its arrivals;
- the cap: an `aiolimiter.AsyncLimiter`. It is a leaky bucket: with capacity c draining
  at r per second, any 1 s window admits at most c + r requests. So c is a small burst
  (5 % of the cap, at least 1) and r = cap - c: the server never sees more than the cap
  in any second, whatever the ramp or the retries do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import anyio
from aiolimiter import AsyncLimiter

DEFAULT_RAMP_S = 60.0
DEFAULT_START_FRACTION = 0.10


class RateCurve(Protocol):
    def rate_at(self, t: float) -> float: ...
    def area_at(self, t: float) -> float: ...


@dataclass(frozen=True, slots=True)
class LinearRamp:
    """From `start` to `peak` req/s over `ramp_s`, then `peak` for ever."""

    start: float
    peak: float
    ramp_s: float

    def rate_at(self, t: float) -> float:
        if t >= self.ramp_s:
            return self.peak
        return self.start + (self.peak - self.start) * max(t, 0.0) / self.ramp_s

    def area_at(self, t: float) -> float:
        t = max(t, 0.0)
        ramp = min(t, self.ramp_s)
        area = (self.start + self.rate_at(ramp)) / 2 * ramp
        return area + self.peak * max(0.0, t - self.ramp_s)


@dataclass(frozen=True, slots=True)
class CappedCurve:
    """A profile's schedule (`arrivals.schedule.Schedule`) under the cap, held at its
    peak once its stages are over (an import lasts as long as its file)."""

    schedule: RateCurve
    end_s: float
    cap: float

    def rate_at(self, t: float) -> float:
        rate = self.schedule.rate_at(t) if t < self.end_s else self.cap
        return min(rate, self.cap)

    def area_at(self, t: float) -> float:
        # Uncapped area is an upper bound while the stages stay under the cap (the guard
        # refused any profile above it), so the schedule's own exact area is used.
        inside = self.schedule.area_at(min(t, self.end_s))
        return inside + self.cap * max(0.0, t - self.end_s)


def burst_for(cap: float) -> float:
    return max(1.0, math.floor(cap * 0.05))


class Pacer:
    """`await pacer.acquire()` before each request; `cap` holds in any 1 s window."""

    def __init__(
        self, curve: RateCurve, cap: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        burst = burst_for(cap)
        drain = max(cap - burst, cap * 0.5)  # cap < 2: c + r may not fit; keep half
        self.cap, self._curve, self._clock = cap, curve, clock
        self._limiter = AsyncLimiter(burst, burst / drain)
        self._started = clock()
        self._issued = 0

    async def acquire(self) -> None:
        self._issued += 1
        while (wait := self._wait_for(self._issued - 1)) > 0:
            await anyio.sleep(min(wait, 0.5))
        await self._limiter.acquire()

    def _wait_for(self, index: int) -> float:
        """Seconds until the curve's area reaches `index` (0 when it has)."""
        t = self._clock() - self._started
        missing = index - self._curve.area_at(t)
        if missing <= 0:
            return 0.0
        return max(missing / max(self._curve.rate_at(t), 0.1), 0.001)

    def rate_now(self) -> float:
        return self._curve.rate_at(self._clock() - self._started)


__all__ = ["DEFAULT_RAMP_S", "DEFAULT_START_FRACTION", "CappedCurve", "LinearRamp", "Pacer"]
