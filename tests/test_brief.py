"""The heads-up brief: every handbook question answered, for each shipped profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import Schedule
from loadgen.guard.brief import excess_over, render_brief
from loadgen.guard.rules import evaluate
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from tests.guard_support import DELETE, NOW, load, stages, target

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
SHIPPED = sorted(p for p in PROFILES.glob("*.toml") if not p.name.startswith("."))
SECTIONS = [
    "# Heads-up: load test",
    "## When it is scheduled",
    "## Peak rate and total duration",
    "## Ramp-up profile",
    "## Batching",
    "## Event types",
    "## distinct_id variance",
    "## Apps",
    "## Expected 429s at the workspace limit",
    "## Guard findings",
    "## Approval",
]


def test_shipped_profiles_exist() -> None:
    assert len(SHIPPED) >= 4


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_brief_answers_every_question(path: Path) -> None:
    profile = load_profile(path)
    for tgt in (BUILTIN_LOCAL, target()):
        plan = Plan.build(profile, tgt)
        verdict = evaluate(plan, approval=None, now=NOW)
        text = render_brief(plan, verdict)
        positions = [text.index(section) for section in SECTIONS]
        assert positions == sorted(positions)  # every section, in order
        assert "```text\n" in text and "requests/s over time" in text  # the ramp chart
        for row in ("| top 1 |", "| top 10 |", "| top 100 |"):
            assert row in text
        assert "Hottest user" in text or "hottest user" in text
        assert "identify (`$identify`):" in text and "alias (`$create_alias`, merge):" in text
        assert f"{plan.schedule.peak_rate:g} requests/s" in text
        assert profile.content_hash in text
        assert verdict.approval_status in text
        if profile.start is not None:
            assert "Europe/Berlin" in text and " UTC = " in text


def test_brief_reports_schedule_in_both_zones(tmp_path: Path) -> None:
    profile = load(tmp_path)  # Tuesday 2026-12-01 10:00 +01:00
    plan = Plan.build(profile, target())
    text = render_brief(plan, evaluate(plan, approval=None, now=NOW))
    assert "2026-12-01 09:00:00 UTC = Tuesday 2026-12-01 10:00:00 Europe/Berlin (CET)" in text


def test_brief_counts_429s_above_the_workspace_limit(tmp_path: Path) -> None:
    # 0 -> 150 in 15 s, hold 60 s: above 100 req/s for 5 s of ramp and the whole hold
    profile = load(tmp_path, load={"start_rate": 0, "stages": stages((15, 150), (60, 150))})
    plan = Plan.build(profile, target())
    text = render_brief(plan, evaluate(plan, approval=None, now=NOW))
    # 5 s * 50 / 2 + 60 s * 50 = 3,125 requests over 1m5s
    assert "above it for 1m5s: about 3,125 requests" in text
    assert "`limit.workspace-rps`" in text
    assert "An approval is needed for this run. Status: missing." in text


def test_missing_schedule_and_apps_are_said(tmp_path: Path) -> None:
    profile = load(tmp_path, schedule=DELETE, apps_enabled=DELETE)
    plan = Plan.build(profile, target())
    text = render_brief(plan, evaluate(plan, approval=None, now=NOW))
    assert "Not scheduled yet" in text
    assert "not stated (`apps_enabled` is missing)" in text
    assert "`schedule.missing-start`" in text


# (start rate, stages, limit, expected requests above it, seconds above it)
EXCESS: list[tuple[float, list[tuple[float, float]], float, float, float]] = [
    (0, [(10, 50)], 100, 0.0, 0.0),  # never above the limit
    (150, [(10, 150)], 100, 500.0, 10.0),  # flat 50 above for 10 s
    (0, [(20, 200)], 100, 500.0, 10.0),  # crosses halfway: a triangle of 10 s x 100 / 2
    (200, [(20, 0)], 100, 500.0, 10.0),  # the same going down
    (100, [(10, 100)], 100, 0.0, 0.0),  # exactly at the limit is not above it
    (0, [(10, 100), (0, 300), (5, 300)], 100, 1000.0, 5.0),  # a jump: no time, no area
]


@pytest.mark.parametrize(("start", "pieces", "limit", "requests", "seconds"), EXCESS)
def test_excess_over(
    start: float, pieces: list[tuple[float, float]], limit: float, requests: float, seconds: float
) -> None:
    got = excess_over(Schedule(start, pieces), limit)
    assert got == pytest.approx((requests, seconds))


@settings(max_examples=80, deadline=None)
@given(
    start=st.floats(0, 500),
    pieces=st.lists(st.tuples(st.floats(0.5, 50), st.floats(0, 500)), min_size=1, max_size=4),
    limit=st.floats(1, 400),
)
def test_excess_matches_numeric_integration(
    start: float, pieces: list[tuple[float, float]], limit: float
) -> None:
    schedule = Schedule(start, pieces)
    steps = 4000
    dt = schedule.duration_s / steps
    midpoints = [schedule.rate_at((i + 0.5) * dt) for i in range(steps)]
    numeric = sum(max(0.0, r - limit) for r in midpoints) * dt
    seconds = sum(r > limit for r in midpoints) * dt
    requests, above = excess_over(schedule, limit)
    assert requests == pytest.approx(numeric, rel=1e-3, abs=schedule.peak_rate * dt)
    assert above == pytest.approx(seconds, abs=2 * dt * len(pieces))
