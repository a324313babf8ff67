"""The run-time rate cap: retries included, never more than the approved peak.

A token bucket (`loadgen.buckets.TokenBucket`, the one the mock's 429s use) paces the
sends; it holds 10 ms of the cap, at least one request. But a busy loop iteration or an
OS pause can make sends leave closer together than their turns, which a pipeline would
see as a burst. So for caps up to `WINDOW_LIMIT` req/s a sliding window of real send
times also holds: at most floor(cap) sends in any `1 s + margin` window. A cap equal to
the planned rate therefore leaves first attempts no slack: approve a little above the
peak (the README says so).

The check is synchronous (`take()` says "send now" or "ask again in t seconds"), so the
engine can apply it on its hot path without a task or an await per request.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from loadgen.buckets import TokenBucket

WINDOW_LIMIT = 10_000.0  # above this, one request more or less per second is noise
MARGIN_S = 0.025  # how much the loop or the OS may bunch sends together and still be held
# Waiting exactly the `wait` returned can land a few ulps short of the window's end: a send
# that much early is on time (1 ns, against the window's 25 ms margin).
ON_TIME_S = 1e-9


class RateCap:
    """Ask `take()` before every send (first attempts and retries alike)."""

    __slots__ = ("_bucket", "_clock", "_sent", "_window_s")

    def __init__(
        self,
        rate: float,
        margin_s: float = MARGIN_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"a rate cap must be positive, not {rate}")
        self._clock = clock
        self._bucket = TokenBucket(rate, max(1.0, rate / 100), clock)
        self._window_s = 1.0 + margin_s
        size = max(1, math.floor(rate))
        self._sent: deque[float] | None = deque(maxlen=size) if rate <= WINDOW_LIMIT else None

    def take(self) -> float:
        """0.0: send now (the send is counted); else the seconds to wait before asking again."""
        sent = self._sent
        if sent is not None and len(sent) == sent.maxlen:
            wait = sent[0] + self._window_s - self._clock()
            if wait > ON_TIME_S:
                return wait
        wait = self._bucket.take()
        if wait > 0:
            return wait
        if sent is not None:
            sent.append(self._clock())
        return 0.0
