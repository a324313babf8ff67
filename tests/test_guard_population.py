"""The Zipf population model and the hot distinct_id warning."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.guard.population import (
    EXACT_LIMIT,
    expected_top_shares,
    harmonic,
    hottest_user_share,
    top_share,
)
from tests.guard_support import rules, stages, verdict

# (n, skew, exact H(n, skew))
HARMONIC = [
    (1, 1.2, Fraction(1)),  # one user takes everything
    (5, 0.0, Fraction(5)),  # skew 0 is uniform: every term is 1
    (2, 1.0, Fraction(3, 2)),  # the classic harmonic numbers
    (4, 2.0, 1 + Fraction(1, 4) + Fraction(1, 9) + Fraction(1, 16)),
]


@pytest.mark.parametrize(("n", "skew", "exact"), HARMONIC)
def test_harmonic_small_cases(n: int, skew: float, exact: Fraction) -> None:
    assert harmonic(n, skew) == pytest.approx(float(exact), rel=1e-15)


def test_integral_continuation_joins_the_exact_sum() -> None:
    for skew in (0.0, 0.5, 1.0, 1.2):
        step = harmonic(EXACT_LIMIT + 1, skew) - harmonic(EXACT_LIMIT, skew)
        # the next term is (10^6 + 1)^-skew; the midpoint integral matches it closely
        assert step == pytest.approx((EXACT_LIMIT + 1) ** -skew, rel=1e-9)


def test_large_populations_approach_zeta() -> None:
    # H(n, 2) = pi^2/6 - 1/n + O(1/n^2)
    assert harmonic(10**9, 2.0) == pytest.approx(math.pi**2 / 6 - 1e-9, rel=1e-12)
    # H(n, 1) = ln n + gamma + 1/(2n) - ...
    gamma, n = 0.5772156649015329, 10**8
    assert harmonic(n, 1.0) == pytest.approx(math.log(n) + gamma + 1 / (2 * n), rel=1e-12)


# (count, skew, {k: share})
SHARES = [
    (1000, 0.0, {1: 0.001, 10: 0.01, 100: 0.1}),  # uniform
    (50, 0.0, {1: 0.02, 10: 0.2, 100: 1.0}),  # fewer users than the top 100: all of them
    (3, 1.0, {1: 6 / 11, 10: 1.0, 100: 1.0}),  # 1 / (1 + 1/2 + 1/3)
]


@pytest.mark.parametrize(("count", "skew", "expected"), SHARES)
def test_top_shares(count: int, skew: float, expected: dict[int, float]) -> None:
    shares = expected_top_shares(count, skew)
    assert shares == pytest.approx(expected, rel=1e-12)
    assert hottest_user_share(count, skew) == pytest.approx(expected[1], rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 5000), skew=st.floats(0, 3), k=st.integers(1, 6000))
def test_shares_are_ordered_probabilities(count: int, skew: float, k: int) -> None:
    share = top_share(k, count, skew)
    assert 0 < share <= 1
    assert top_share(k + 1, count, skew) >= share  # more users, more of the events
    assert top_share(k, count + 1, skew) <= share + 1e-12  # a larger crowd dilutes them
    if k < count:
        assert share >= k / count - 1e-12  # a skew only ever concentrates events


def _hot(rate: float, batch: int, **extra: Any) -> dict[str, Any]:
    scenario = {"name": "b", "api": "posthog", "kind": "batch", "weight": 1, "batch_size": batch}
    return {
        "load": {"start_rate": 0, "stages": stages((10, rate), (30, rate))},
        "users": {"count": 2, "skew": 0},  # two users: each gets half the events
        "scenarios": [{**scenario, **extra}],
    }


# (req/s at peak, batch size, warned?)  events/s of the hottest user = rate * batch / 2
HOT = [
    (50, 4, False),  # 200 events/s, 100 per user: exactly the threshold
    (50.5, 4, True),  # 101 per user: over it
    (20, 10, False),  # 100 per user again, through bigger batches
    (20, 11, True),  # 110 per user
]


@pytest.mark.parametrize(("rate", "batch", "warned"), HOT)
def test_hot_distinct_id(tmp_path: Path, rate: float, batch: int, warned: bool) -> None:
    v = verdict(tmp_path, **_hot(rate, batch))
    assert ("population.hot-distinct-id" in rules(v)) == warned
    assert not v.refused


def test_historical_posthog_batches_never_overflow(tmp_path: Path) -> None:
    v = verdict(tmp_path, **_hot(50, 100, historical=True, history="30d"))
    assert "population.hot-distinct-id" not in rules(v)
