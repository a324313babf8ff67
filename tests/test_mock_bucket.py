"""Token buckets on a fake clock: tables, bounded memory, and the rate property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.buckets import KeyedBuckets, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# (rate, burst, [(time, expected wait)]): wait 0 means admitted
BUCKET_TABLE = [
    # starts full: `burst` requests pass at once, the next waits 1/rate
    (10.0, 3.0, [(0, 0), (0, 0), (0, 0), (0, 0.1)]),
    # a refused request takes nothing: after 0.1 s exactly one more passes
    (10.0, 3.0, [(0, 0), (0, 0), (0, 0), (0, 0.1), (0.1, 0), (0.1, 0.1)]),
    # idle time refills up to burst, never beyond
    (10.0, 2.0, [(0, 0), (0, 0), (100, 0), (100, 0), (100, 0.1)]),
    # half a token accrued: the wait is for the other half
    (2.0, 1.0, [(0, 0), (0.25, 0.25)]),
]


@pytest.mark.parametrize(("rate", "burst", "steps"), BUCKET_TABLE)
def test_token_bucket(rate: float, burst: float, steps: list[tuple[float, float]]) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock)
    keyed = KeyedBuckets(rate, burst)
    for when, wait in steps:
        clock.now = when
        assert bucket.take() == pytest.approx(wait)
        assert keyed.take("k", when) == pytest.approx(wait)  # same arithmetic, per key


def test_keys_are_independent() -> None:
    buckets = KeyedBuckets(1.0, 1.0)
    assert buckets.take("a", 0.0) == 0
    assert buckets.take("a", 0.0) > 0
    assert buckets.take("b", 0.0) == 0  # another workspace has its own quota


def test_memory_stays_bounded_for_many_keys() -> None:
    buckets = KeyedBuckets(100.0, 1000.0, max_keys=2000)
    for i in range(50_000):
        buckets.take(f"user-{i}", i / 1000)  # one event per key: refilled within 10 s
    assert len(buckets) <= 2000


def test_pruning_forgets_only_full_buckets() -> None:
    buckets = KeyedBuckets(1.0, 5.0, max_keys=10_000)
    for _ in range(5):
        buckets.take("hot", 0.0)  # drained
    for i in range(3000):  # forces prunes; `hot` is not full yet at t=1
        buckets.take(f"cold-{i}", 1.0)
    assert buckets.take("hot", 1.0) == 0  # one token refilled in 1 s
    assert buckets.take("hot", 1.0) > 0  # and no more: its debt was kept


def test_invalid_buckets_are_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(0.0, 1.0, FakeClock())
    with pytest.raises(ValueError, match="burst >= 1"):
        KeyedBuckets(1.0, 0.5)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.5, 500),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 0.2), min_size=1, max_size=300),
)
def test_never_more_than_burst_plus_rate_times_window(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock)
    admitted: list[float] = []
    for gap in gaps:
        clock.now += gap
        if bucket.take() == 0:
            admitted.append(clock.now)
    # In every window [t_i, t_j] the admitted count is at most burst + rate * (t_j - t_i).
    for i in range(len(admitted)):
        for j in range(i, len(admitted)):
            assert j - i + 1 <= burst + rate * (admitted[j] - admitted[i]) + 1e-6
