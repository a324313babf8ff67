"""Plan and dry-run are linear in the stage count: lookups by binary search give the same
answers as a scan over the stages, and building, planning and checking a profile of n
stages computes each stage's area a bounded number of times (it was n per lookup)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given

from loadgen.arrivals import schedule as schedule_module
from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import Schedule
from loadgen.guard.lint import preflight
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from loadgen.report.plan_text import render_plan
from tests.profile_text import profile_text, write

stages = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.5, 1.0, 7.25, 60.0]),  # zero-duration jumps included
        st.sampled_from([0.0, 1.0, 3.5, 10.0, 100.0]),
    ),
    min_size=1,
    max_size=12,
)


def scanned_rate(schedule: Schedule, t: float) -> float:
    """The rate at `t` by scanning every stage (the former implementation)."""
    for stage in schedule.stages:
        if stage.start_s <= t < stage.end_s:
            return (
                stage.start_rate
                + (stage.end_rate - stage.start_rate) * (t - stage.start_s) / stage.duration_s
            )
    return schedule.stages[-1].end_rate if t >= schedule.duration_s else 0.0


def scanned_area(schedule: Schedule, t: float) -> float:
    area = 0.0
    for index, stage in enumerate(schedule.stages):
        if t < stage.end_s:
            dt = max(0.0, t - stage.start_s)
            return area + dt * (stage.start_rate + scanned_rate(schedule, t)) / 2
        area += schedule.stage_requests(index)
    return area


@given(st.floats(min_value=0, max_value=20), stages, st.floats(min_value=-1, max_value=400))
def test_binary_search_lookups_match_a_scan(
    start: float, pieces: list[tuple[float, float]], t: float
) -> None:
    schedule = Schedule(start, pieces)
    assert schedule.rate_at(t) == pytest.approx(scanned_rate(schedule, t))
    assert schedule.area_at(t) == pytest.approx(scanned_area(schedule, t), abs=1e-6)
    for stage in schedule.stages:  # at every boundary too, where a jump is right-continuous
        assert schedule.rate_at(stage.start_s) == pytest.approx(
            scanned_rate(schedule, stage.start_s)
        )
    assert schedule.area_at(schedule.duration_s) == pytest.approx(float(schedule.total_area))


@pytest.mark.parametrize("count", [10, 1_000])  # few, and as many as made plan take 8 s
def test_plan_and_guard_compute_each_stage_area_a_bounded_number_of_times(
    tmp_path: Path, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [("1s", 5.0 + 5 * (i % 2)) for i in range(count)]
    profile = load_profile(write(tmp_path, profile_text(stages=pieces)))
    calls = 0
    real = schedule_module._stage_area

    def counted(stage: schedule_module.Stage) -> object:
        nonlocal calls
        calls += 1
        return real(stage)

    monkeypatch.setattr(schedule_module, "_stage_area", counted)
    plan = Plan.build(profile, BUILTIN_LOCAL)
    render_plan(plan)
    preflight(Plan.build(profile, BUILTIN_LOCAL), now=datetime(2026, 11, 20, tzinfo=UTC))
    assert plan.to_dict()["total_requests"] == plan.schedule.total_requests
    # One schedule for each plan (the one shown, the one the guard checks): each area
    # once. A scan per lookup made this count * count.
    assert calls == 2 * count
