"""Spike to peak: each rule at its boundary, both ways (GUARD.md refusal 1)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.guard.rules import evaluate
from tests.guard_support import NOW, load, rules, stages, target, verdict

SPIKES = {
    "spike.start-above-fraction",
    "spike.slope",
    "spike.zero-duration-jump",
    "spike.flat-at-peak",
}

# (start_rate, stages, the spike rules expected)
CASES: list[tuple[float, list[dict[str, Any]], set[str]]] = [
    # 0 -> 100 in exactly 10 s is exactly 10 req/s per second: allowed
    (0, stages((10, 100)), set()),
    # 0 -> 100.1 in 10 s is 10.01 req/s per second: refused
    (0, stages((10, 100.1)), {"spike.slope"}),
    # 0 -> 1000 needs at least 100 s (GUARD.md's own example)
    (0, stages((100, 1000)), set()),
    (0, stages((99.9, 1000)), {"spike.slope"}),
    # start exactly at 10 % of the 100 req/s peak: allowed
    (10, stages((9, 100)), set()),
    # start just above 10 %: refused
    (10.01, stages((9, 100)), {"spike.start-above-fraction"}),
    # flat at peak from the first second: its own rule, whatever the fraction
    (100, stages((60, 100)), {"spike.flat-at-peak"}),
    # a zero-duration stage that rises is an infinite slope
    (0, stages((20, 50), (0, 60), (10, 60)), {"spike.zero-duration-jump"}),
    # ... even a small step up counts
    (0, stages((20, 50), (0, 50.5), (10, 50.5)), {"spike.zero-duration-jump"}),
    # a zero-duration stage that keeps the rate is harmless
    (0, stages((10, 50), (0, 50), (10, 50)), set()),
    # ramps down are not spikes, even instant drops: shedding load never hurts
    (0, stages((10, 100), (0, 0)), set()),
    (0, stages((10, 100), (1, 0)), set()),
    # a peak under the 10 req/s floor is never a spike: 0 -> 9.99 instantly
    (9.99, stages((1, 9.99)), set()),
    # at exactly the floor the rules apply
    (10, stages((1, 10)), {"spike.flat-at-peak"}),
    # a later stage that rises too fast is caught, not only the first
    (0, stages((10, 50), (60, 50), (2, 80)), {"spike.slope"}),
]


@pytest.mark.parametrize(("start", "stage_list", "expected"), CASES)
def test_spike_rules_at_their_boundaries(
    tmp_path: Path, start: float, stage_list: list[dict[str, Any]], expected: set[str]
) -> None:
    roomy = target(workspace_rps_limit=10_000)  # only the spike rules refuse here
    v = verdict(tmp_path, roomy, load={"start_rate": start, "stages": stage_list})
    assert rules(v) & SPIKES == expected
    assert v.refused == bool(expected)


def test_thresholds_are_per_target(tmp_path: Path) -> None:
    profile = load(tmp_path, load={"start_rate": 0, "stages": stages((5, 100))})  # 20 req/s/s
    strict = evaluate(Plan.build(profile, target()), approval=None, now=NOW)
    relaxed = evaluate(Plan.build(profile, target(max_slope_rps_per_s=20)), approval=None, now=NOW)
    assert "spike.slope" in rules(strict)
    assert "spike.slope" not in rules(relaxed)
    floor = evaluate(Plan.build(profile, target(spike_floor_rps=101)), approval=None, now=NOW)
    assert not rules(floor) & SPIKES  # the peak is under this target's harmless floor
    started = load(tmp_path, load={"start_rate": 30, "stages": stages((7, 100))})
    assert "spike.start-above-fraction" in rules(
        evaluate(Plan.build(started, target()), approval=None, now=NOW)
    )
    allowed = evaluate(Plan.build(started, target(max_start_fraction=0.3)), approval=None, now=NOW)
    assert not rules(allowed) & SPIKES


def test_finding_points_at_the_stage_line_and_says_it_is_not_approvable(tmp_path: Path) -> None:
    profile = load(tmp_path, load={"start_rate": 0, "stages": stages((10, 50), (1, 90))})
    text = profile.path.read_text().splitlines()
    v = evaluate(Plan.build(profile, target()), approval=None, now=NOW)
    (slope,) = v.findings
    assert slope.path == "load.stages[1].target"
    assert slope.line is not None and text[slope.line - 1].strip() == "target = 90"
    assert slope.value == 40 and slope.limit == 10
    assert "never approvable" in slope.message
    assert slope.fix is not None and "4s" in slope.fix  # 40 req/s at 10 req/s/s


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 200),
    pairs=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 400)), min_size=1, max_size=5),
)
def test_spike_rules_agree_with_a_direct_reading_of_the_policy(
    start: int, pairs: list[tuple[int, int]]
) -> None:
    if sum(d for d, _ in pairs) == 0:
        pairs = [*pairs, (1, pairs[-1][1])]  # a profile needs some duration
    rates = [start, *(t for _, t in pairs)]
    peak = max(rates)
    steep = jump = False
    for (duration, rate), before in zip(pairs, rates, strict=False):
        if rate > before:
            jump |= duration == 0
            steep |= duration > 0 and (rate - before) / duration > 10
    with tempfile.TemporaryDirectory() as tmp:
        roomy = target(workspace_rps_limit=10_000)
        v = verdict(Path(tmp), roomy, load={"start_rate": start, "stages": stages(*pairs)})
    found = rules(v)
    armed = peak >= 10
    assert ("spike.slope" in found) == (armed and steep)
    assert ("spike.zero-duration-jump" in found) == (armed and jump)
    assert ("spike.flat-at-peak" in found) == (armed and start == peak)
    assert ("spike.start-above-fraction" in found) == (armed and 0.1 * peak < start < peak)
