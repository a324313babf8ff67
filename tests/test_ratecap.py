"""The run-time rate cap on a fake clock: a table of decisions, and the property that the
sends it admits never exceed the cap in any sliding window, whenever they are asked for."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loadgen.run.ratecap import MARGIN_S, ON_TIME_S, WINDOW_LIMIT, RateCap


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _busiest(times: list[float], window_s: float) -> int:
    """The most sends in any window; a send `ON_TIME_S` short of a window's end is past it."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s - ON_TIME_S:
            start += 1
        best = max(best, end - start + 1)
    return best


# (cap, [(time, expected wait)]): wait 0 means "send now"
TABLE = [
    # the bucket holds max(1, cap/100) tokens: at 100/s one passes, the next waits 10 ms
    (100.0, [(0, 0), (0, 0.01), (0.01, 0)]),
    # at 1000/s, 10 pass at once, the 11th waits 1 ms
    (1000.0, [(0, 0)] * 10 + [(0, 0.001)]),
    # the window: 2/s lets 2 sends through in any 1.025 s, even with the bucket refilled
    (2.0, [(0, 0), (0.5, 0), (1.0, 0.025), (1.025, 0), (1.5, 0.025), (1.525, 0)]),
    # a refused ask takes nothing: the next ask at the stated time passes
    (10.0, [(0, 0), (0, 0.1), (0.1, 0)]),
]


@pytest.mark.parametrize(("cap", "steps"), TABLE)
def test_decisions(cap: float, steps: list[tuple[float, float]]) -> None:
    now = FakeTime()
    rate_cap = RateCap(cap, clock=now)
    for when, wait in steps:
        now.now = when
        assert rate_cap.take() == pytest.approx(wait)


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(min_value=1, max_value=300),
    gaps=st.lists(st.floats(min_value=0, max_value=0.05), min_size=1, max_size=1500),
)
@example(cap=1, gaps=[0.010953671497241827, 0.0, 0.0])  # 1.025 s apart, a float's width short
def test_never_more_than_the_cap_in_any_window(cap: int, gaps: list[float]) -> None:
    """Senders that ask at arbitrary times and retry when told get at most `cap` per window."""
    now = FakeTime()
    rate_cap = RateCap(cap, clock=now)
    admitted: list[float] = []
    for gap in gaps:
        now.now += gap
        while (wait := rate_cap.take()) > 0:
            now.now += wait
        admitted.append(now.now)
    assert _busiest(admitted, 1.0 + MARGIN_S) <= cap


def test_no_window_above_the_limit_only_the_bucket() -> None:
    """Past WINDOW_LIMIT the bucket alone paces: 1 s admits about the cap, plus its burst."""
    now = FakeTime()
    cap = WINDOW_LIMIT * 2
    rate_cap = RateCap(cap, clock=now)
    admitted = 0
    while now.now < 1.0:
        wait = rate_cap.take()
        if wait > 0:
            now.now += wait
        else:
            admitted += 1
    assert cap <= admitted <= cap + cap / 100 + 1


def test_rejects_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateCap(0)
