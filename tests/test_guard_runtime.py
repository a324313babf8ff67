"""The safety stop and the retry backoff, on a fake clock (times are passed in)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.guard.runtime import RetryBackoff, SafetyMonitor, is_failure, retry_delay


def feed(monitor: SafetyMonitor, t: float, statuses: Sequence[int | None]) -> None:
    for status in statuses:
        monitor.observe(t, status, status is None)


# (statuses seen within one window, tripped?)  defaults: 5 % over 10 s, at least 20 requests
TRIPS: list[tuple[Sequence[int | None], bool]] = [
    ([503] * 19, False),  # all failing, but too few requests to judge
    ([503] * 20, True),  # 20 requests is enough
    ([200] * 19 + [429], False),  # 1 of 20 is exactly 5 %: not above it
    ([200] * 18 + [429, 500], True),  # 2 of 20 is 10 %
    ([200] * 95 + [503] * 5, False),  # 5 % again
    ([200] * 94 + [503] * 6, True),  # 6 %
    ([200] * 18 + [None, None], True),  # transport errors count as failures
    ([200] * 10 + [400, 404, 413] * 10, False),  # client errors are the profile's problem
    ([200] * 2 + [503], False),  # 1 error in 3 at start-up is not a verdict
    ([503] * 19 + [200], True),  # a success that brings the count to 20 makes the verdict
]


@pytest.mark.parametrize(("statuses", "tripped"), TRIPS)
def test_trips_at_its_boundary(statuses: Sequence[int | None], tripped: bool) -> None:
    monitor = SafetyMonitor(0.05, 10.0)
    feed(monitor, 1.0, statuses)
    assert (monitor.tripped() is not None) == tripped


def test_old_failures_leave_the_window() -> None:
    monitor = SafetyMonitor(0.05, 10.0)
    feed(monitor, 0.0, [503] * 15)  # too few to trip
    feed(monitor, 10.5, [200] * 10)  # the 503s are more than 10 s old now
    assert monitor.tripped() is None
    stays = SafetyMonitor(0.05, 10.0)
    feed(stays, 0.0, [503] * 15)
    feed(stays, 9.5, [200] * 10)  # still inside the window: 15 of 25 failed
    assert stays.tripped() is not None


def test_reason_is_plain_words_and_latches() -> None:
    monitor = SafetyMonitor(0.05, 10.0)
    feed(monitor, 2.0, [200] * 17 + [429, 503, None])
    reason = monitor.tripped()
    assert reason is not None
    assert reason.startswith("3 of the last 20 requests failed in 10 s (15.0%, limit 5.0%)")
    assert "1× 429" in reason and "1× 503" in reason and "1× transport error" in reason
    feed(monitor, 30.0, [200] * 100)  # recovering does not restart a stopped run
    assert monitor.tripped() == reason


def test_bad_settings_are_refused() -> None:
    for ratio, window, minimum in [(0, 10, 20), (1.5, 10, 20), (0.05, 0, 20), (0.05, 10, 0)]:
        with pytest.raises(ValueError, match="need 0 < ratio"):
            SafetyMonitor(ratio, window, minimum)


STATUS = st.sampled_from([200, 201, 204, 400, 404, 429, 500, 503, None])


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(st.tuples(st.floats(0, 3), STATUS), max_size=150),
    ratio=st.sampled_from([0.05, 0.2, 0.5]),
)
def test_window_is_sandwiched_between_exact_windows(
    events: list[tuple[float, int | None]], ratio: float
) -> None:
    """At each observation the monitor judges a window between window - step and window
    long: a trip means the long window is bad, no trip means the short one is not."""
    window, minimum, step = 10.0, 5, 10.0 / 100
    monitor = SafetyMonitor(ratio, window, minimum)
    seen: list[tuple[float, bool]] = []
    t = 0.0
    for gap, status in events:
        t += gap
        was = monitor.tripped()
        monitor.observe(t, status, status is None)
        seen.append((t, is_failure(status, status is None)))
        if was is not None:
            continue
        big = [bad for when, bad in seen if when > t - window]
        small = [bad for when, bad in seen if when >= t - window + step]
        if monitor.tripped() is not None:
            assert len(big) >= minimum and sum(big) > ratio * len(small)
        else:
            assert len(small) < minimum or sum(small) <= ratio * len(big)


class FixedRng(random.Random):
    """`uniform` returns the same point of its range every time."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


# (attempt, Retry-After, cap, jitter fraction, delay)
DELAYS: list[tuple[int, float | None, float, float, float]] = [
    (0, None, 30, 1.0, 1.0),  # first retry: up to 2^0 = 1 s
    (3, None, 30, 1.0, 8.0),  # 2^3
    (3, None, 30, 0.5, 4.0),  # full jitter: anywhere in [0, 8]
    (3, None, 30, 0.0, 0.0),  # ... including 0
    (5, None, 30, 1.0, 30.0),  # 2^5 = 32 is capped at 30
    (10_000, None, 30, 1.0, 30.0),  # huge attempts do not overflow
    (0, 5.0, 30, 1.0, 5.0),  # Retry-After is a minimum ...
    (4, 5.0, 30, 1.0, 16.0),  # ... not a replacement
    (0, 100.0, 30, 0.0, 30.0),  # and it is capped too
    (0, -3.0, 30, 1.0, 1.0),  # a negative Retry-After is ignored
    (0, math.nan, 30, 1.0, 1.0),  # so is a nonsense one
    (2, 10.0, 0, 1.0, 0.0),  # a zero cap means retry at once
]


@pytest.mark.parametrize(("attempt", "retry_after", "cap", "fraction", "delay"), DELAYS)
def test_retry_delay(
    attempt: int, retry_after: float | None, cap: float, fraction: float, delay: float
) -> None:
    assert retry_delay(attempt, retry_after, cap, FixedRng(fraction)) == delay


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(0, 100),
    retry_after=st.one_of(st.none(), st.floats(0, 1000)),
    cap=st.floats(0, 300),
    seed=st.integers(0, 2**32),
)
def test_retry_delay_bounds(attempt: int, retry_after: float | None, cap: float, seed: int) -> None:
    delay = retry_delay(attempt, retry_after, cap, random.Random(seed))
    assert 0 <= delay <= cap
    backoff = min(2.0**attempt, cap)
    assert delay <= max(backoff, min(retry_after or 0, cap))
    if retry_after is not None:
        assert delay >= min(retry_after, cap)


def test_retry_backoff_is_the_engine_policy() -> None:
    policy = RetryBackoff(3, 30.0, random.Random(7))
    again = RetryBackoff(3, 30.0, random.Random(7))
    assert policy.max_retries == 3
    assert [policy.delay(n, None) for n in range(4)] == [again.delay(n, None) for n in range(4)]
    assert policy.delay(2, 12.0) >= 12.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (200, False),  # a success is final
        (400, False),  # a bad request fails the same way every time
        (404, False),  # so does a wrong path
        (429, True),  # the target asks to slow down: worth another attempt later
        (500, True),  # a server error may pass
        (503, True),  # an overloaded target may recover
    ],
)
def test_retry_backoff_retries_what_the_safety_stop_counts_as_failing(
    status: int, retryable: bool
) -> None:
    assert RetryBackoff(3, 30.0).retryable(status) is retryable
    assert RetryBackoff(3, 30.0).retryable(status) is is_failure(status, error=False)
