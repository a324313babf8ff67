"""Run-time safety, pure and clock-free: the safety stop and the retry backoff.

`SafetyMonitor` trips when failures exceed `ratio` of the requests completed in the last
`window_s` seconds (the caller passes the time, so tests use a fake clock). A failure is
a 429, a 5xx, or a transport error (refused or reset connections, timeouts): a target
that stops answering is the outage the stop exists to prevent. Nothing trips before
`min_requests` requests are in the window, so 1 error out of 3 at start-up is not a
verdict. The window slides in steps of 1/100 of its length, so memory stays constant at
any request rate. Once tripped it stays tripped: the run is over.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from dataclasses import dataclass, field

STEPS = 100
MIN_REQUESTS = 20


def is_failure(status: int | None, error: bool) -> bool:
    return error or status == 429 or (status is not None and status >= 500)


def _label(status: int | None, error: bool) -> str:
    return "transport error" if error or status is None else str(status)


@dataclass(slots=True)
class _Bucket:
    index: int
    total: int = 0
    failed: Counter[str] = field(default_factory=Counter)


class SafetyMonitor:
    """The run-time safety stop: trips once 429s, 5xx and transport errors exceed `ratio` of
    the outcomes in the last `window_s` seconds (with at least `min_requests` in the window)."""

    def __init__(self, ratio: float, window_s: float, min_requests: int = MIN_REQUESTS) -> None:
        if not 0 < ratio <= 1 or not window_s > 0 or min_requests < 1:
            raise ValueError("need 0 < ratio <= 1, window_s > 0 and min_requests >= 1")
        self.ratio, self.window_s, self.min_requests = ratio, window_s, min_requests
        self._step = window_s / STEPS
        self._buckets: deque[_Bucket] = deque()
        self._total = 0
        self._failed: Counter[str] = Counter()
        self._reason: str | None = None

    def observe(self, t_s: float, status: int | None, error: bool) -> None:
        """Record one completed request (`status` None with `error` for transport errors)."""
        buckets = self._buckets
        if (
            buckets
            and not error
            and status is not None
            and status < 500
            and status != 429
            and math.floor(t_s / self._step) <= buckets[-1].index
        ):  # the hot path: a success in the current bucket; nothing expires
            buckets[-1].total += 1
            self._total += 1
            if self._reason is None and self._failed:  # reaching min_requests can trip
                self._reason = self._check()
            return
        index = max(math.floor(t_s / self._step), self._buckets[-1].index if self._buckets else 0)
        if not self._buckets or self._buckets[-1].index != index:
            self._buckets.append(_Bucket(index))
        bucket = self._buckets[-1]
        bucket.total += 1
        self._total += 1
        if is_failure(status, error):
            label = _label(status, error)
            bucket.failed[label] += 1
            self._failed[label] += 1
        self._expire(index)
        if self._reason is None:
            self._reason = self._check()

    def _expire(self, index: int) -> None:
        while self._buckets and self._buckets[0].index <= index - STEPS:
            old = self._buckets.popleft()
            self._total -= old.total
            self._failed -= old.failed

    def _check(self) -> str | None:
        failed = sum(self._failed.values())
        if self._total < self.min_requests or failed <= self.ratio * self._total:
            return None
        kinds = ", ".join(f"{n}× {label}" for label, n in sorted(self._failed.items()))
        return (
            f"{failed} of the last {self._total} requests failed in {self.window_s:g} s "
            f"({failed / self._total:.1%}, limit {self.ratio:.1%}): {kinds}; stopping so "
            "that the load test does not become an outage"
        )

    def tripped(self) -> str | None:
        """Why the run must stop, in plain words; None while the target is healthy."""
        return self._reason


def retry_delay(
    attempt: int, retry_after_s: float | None, max_backoff_s: float, rng: random.Random
) -> float:
    """Seconds to wait before retry `attempt` (0 for the first retry).

    Full jitter over min(2^attempt, cap) spreads retries out; a server's Retry-After is
    honoured as a minimum, and everything is capped at `max_backoff_s`.
    """
    cap = max(0.0, max_backoff_s)
    ceiling = cap if attempt >= 64 else min(float(2**attempt), cap)
    delay = rng.uniform(0.0, ceiling)
    if retry_after_s is not None and math.isfinite(retry_after_s) and retry_after_s > 0:
        delay = max(delay, retry_after_s)
    return min(delay, cap)


class RetryBackoff:
    """The engine's retry policy for profiles that opt in (`[retries] enabled = true`)."""

    def __init__(
        self, max_retries: int, max_backoff_s: float, rng: random.Random | None = None
    ) -> None:
        self.max_retries = max_retries
        self.max_backoff_s = max_backoff_s
        self._rng = rng or random.Random()

    def retryable(self, status: int) -> bool:
        """A 429 or a 5xx: the answers the safety stop counts as failures (`is_failure`)."""
        return is_failure(status, error=False)

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        return retry_delay(attempt, retry_after_s, self.max_backoff_s, self._rng)
