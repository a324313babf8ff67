"""The live panel's rates: achieved and planned over the same completed second, from metric
snapshots fed by a fake clock (no run, no sleeping): every arrival is recorded as planned
and, in an on-time run, started at its planned offset, as the engine does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.schedule import Schedule
from loadgen.metrics import RunMetrics
from loadgen.report.live import RateWindow, last_complete_second, plain_line, rate_window

DEMO = Schedule(1, [(10, 50), (15, 50), (5, 0)])  # profiles/demo.toml: 1 -> 50, hold, down


def on_time_run(schedule: Schedule, until: float) -> RunMetrics:
    """Metrics of a run where every request so far started exactly at its planned offset."""
    metrics = RunMetrics(["s"])
    for _, offset in schedule.offsets():
        if offset >= until:
            break
        metrics.record_planned(offset)
        metrics.record_started(0, offset)
    return metrics


# (elapsed, the window's second, planned = achieved starts in it)
DEMO_FRAMES = [
    # before one second has passed there is nothing complete to compare
    (0.4, None, 0),
    # at 2 s the window is [1, 2): area 3.45 -> 11.8, requests 4..11 (the case: it
    # showed 3.0 achieved / 11.0 planned)
    (2.0, 1, 8),
    # mid-second frames still use the last complete second
    (2.7, 1, 8),
    # on the hold at 50 req/s
    (12.5, 11, 50),
    # at the very end, [29, 30): the last second of the ramp down (rate 10 -> 0), not the
    # rate 0 at the end (the "last frame 4.0 / 0.0")
    (30.0, 29, 5),
    # waiting for in-flight requests after the end: still the schedule's last second
    (33.2, 29, 5),
]


@pytest.mark.parametrize(("elapsed", "second", "count"), DEMO_FRAMES)
def test_demo_frames_compare_the_same_second(
    elapsed: float, second: int | None, count: int
) -> None:
    metrics = on_time_run(DEMO, elapsed)
    rates, _ = rate_window(elapsed, DEMO.duration_s, metrics.snapshot)
    assert rates == RateWindow(second, count, count)


def test_a_late_second_shows_behind() -> None:
    # the comparison can fail: drop the sends of [5, 6) and achieved falls below planned
    metrics = RunMetrics(["s"])
    for _, offset in DEMO.offsets():
        if offset >= 6.5:
            break
        metrics.record_planned(offset)
        if not 5 <= offset < 6:
            metrics.record_started(0, offset)
    rates, _ = rate_window(6.5, DEMO.duration_s, metrics.snapshot)
    assert rates.second == 5
    assert rates.achieved == 0 < rates.planned


# (elapsed, total, last complete second)
SECONDS = [
    (0.99, 30, None),  # the first second is not complete yet
    (1.0, 30, 0),  # it just completed
    (30.5, 30, 29),  # the schedule's last second, not [30, 31) after it
    (40.0, 30.5, 30),  # a schedule ending mid-second: its partial last second counts
]


@pytest.mark.parametrize(("elapsed", "total", "second"), SECONDS)
def test_last_complete_second(elapsed: float, total: float, second: int | None) -> None:
    assert last_complete_second(elapsed, total) == second


stage = st.tuples(
    st.integers(min_value=1, max_value=8), st.integers(min_value=0, max_value=60)
).map(lambda p: (float(p[0]), float(p[1])))


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=40),
    stages=st.lists(stage, min_size=1, max_size=4),
    elapsed=st.floats(min_value=0, max_value=40),
)
def test_on_time_runs_show_achieved_equal_to_planned(
    start: int, stages: list[tuple[float, float]], elapsed: float
) -> None:
    schedule = Schedule(start, stages)
    metrics = on_time_run(schedule, elapsed)
    rates, _ = rate_window(elapsed, schedule.duration_s, metrics.snapshot)
    assert rates.achieved == rates.planned


def test_plain_line_shows_the_window() -> None:
    metrics = on_time_run(DEMO, 2.0)
    rates, snap = rate_window(2.0, DEMO.duration_s, metrics.snapshot)
    assert "rate 8.0/8.0 req/s" in plain_line(2.0, DEMO.duration_s, rates, snap)
    early, snap = rate_window(0.5, DEMO.duration_s, metrics.snapshot)
    assert "rate -/- req/s" in plain_line(0.5, DEMO.duration_s, early, snap)
