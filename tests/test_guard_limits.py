"""Target limits: workspace rate, duration, volume, production and apps (GUARD.md 2, 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.guard.limits import unknown_target
from tests.guard_support import DELETE, rules, stages, target, verdict

# (peak req/s, workspace limit, refused?)
WORKSPACE = [
    (100, 100, False),  # exactly at the default limit: allowed
    (100.5, 100, True),  # just above: refused without an approval
    (250, 300, False),  # a target with a higher limit allows more
    (301, 300, True),  # ... and still refuses above its own
]


@pytest.mark.parametrize(("peak", "limit", "refused"), WORKSPACE)
def test_workspace_limit(tmp_path: Path, peak: float, limit: float, refused: bool) -> None:
    ramp = stages((peak / 10 + 1, peak))  # never steeper than 10 req/s per second
    v = verdict(tmp_path, target(workspace_rps_limit=limit), load={"start_rate": 0, "stages": ramp})
    assert ("limit.workspace-rps" in rules(v)) == refused
    assert v.refused == refused
    assert v.needs_approval == refused


def test_workspace_finding_points_at_the_stage_that_reaches_the_peak(tmp_path: Path) -> None:
    ramp = stages((10, 60), (10, 110), (30, 110))
    v = verdict(tmp_path, load={"start_rate": 0, "stages": ramp})
    (f,) = [f for f in v.findings if f.rule == "limit.workspace-rps"]
    assert f.path == "load.stages[1].target"
    assert f.value == 110 and f.limit == 100
    assert f.fix is not None and "approve sign" in f.fix


# (duration of the hold stage in s, max_duration_s, warned?)
DURATION = [
    (590, 600, False),  # 10 s ramp + 590 s hold = exactly 600 s: allowed
    (591, 600, True),  # one second over: warned
]


@pytest.mark.parametrize(("hold", "limit", "warned"), DURATION)
def test_duration_limit(tmp_path: Path, hold: float, limit: float, warned: bool) -> None:
    v = verdict(
        tmp_path, target(max_duration_s=limit), load={"stages": stages((10, 50), (hold, 50))}
    )
    assert ("limit.duration" in rules(v)) == warned
    assert not v.refused  # a warning never refuses


# (batch size, max_total_events, warned?)  0 -> 50 req/s in 10 s, hold 95 s: 5,000 requests
VOLUME = [
    (1, 5_000, False),  # exactly the quota
    (1, 4_999, True),  # one event over
    (10, 50_000, False),  # batches count every event: 50,000
    (10, 49_999, True),
]


@pytest.mark.parametrize(("batch", "limit", "warned"), VOLUME)
def test_volume_limit(tmp_path: Path, batch: int, limit: float, warned: bool) -> None:
    scenario = {"name": "b", "api": "posthog", "kind": "batch", "weight": 1, "batch_size": batch}
    v = verdict(
        tmp_path,
        target(max_total_events=limit),
        load={"start_rate": 0, "stages": stages((10, 50), (95, 50))},
        users={"count": 100_000, "skew": 0},
        scenarios=[scenario],
    )
    assert not v.refused  # a warning never refuses
    assert ("limit.volume" in rules(v)) == warned


def test_production_always_needs_an_approval(tmp_path: Path) -> None:
    staging = verdict(tmp_path, target("staging"))
    prod = verdict(tmp_path, target("production"))
    assert "target.production-needs-approval" not in rules(staging)
    assert "target.production-needs-approval" in rules(prod)
    assert prod.refused and prod.needs_approval
    # a production target with no trusted keys can never be approved, and says so
    assert "approval.no-trusted-keys" in rules(prod)


def test_production_needs_apps_enabled_stated(tmp_path: Path) -> None:
    stated = verdict(tmp_path, target("production", trusted_keys=("k",)), apps_enabled=True)
    missing = verdict(tmp_path, target("production", trusted_keys=("k",)), apps_enabled=DELETE)
    elsewhere = verdict(tmp_path, target("staging"), apps_enabled=DELETE)
    assert "apps.missing-for-production" not in rules(stated)
    assert "apps.missing-for-production" in rules(missing)
    assert "apps.missing-for-production" not in rules(elsewhere)  # only production requires it


def test_unknown_target_wording() -> None:
    f = unknown_target("prod", ["local", "staging"], "targets.toml")
    assert f.rule == "target.unknown" and f.severity == "refusal"
    assert "'prod'" in f.message
    assert f.fix is not None and "local, staging" in f.fix and "[targets.prod]" in f.fix
