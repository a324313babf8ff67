"""Event types that need care: the identify/alias share and alias-before-identify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.guard_support import rules, stages, target, verdict


def scenario(name: str, kind: str, weight: float, **extra: Any) -> dict[str, Any]:
    return {"name": name, "api": "posthog", "kind": kind, "weight": weight} | extra


# (scenarios, warned?)
SHARE = [
    # 10 of 100 requests identify: exactly the 10 % threshold
    ([scenario("i", "identify", 10), scenario("t", "track", 90)], False),
    # 10.5 %: over it
    ([scenario("i", "identify", 10.5), scenario("t", "track", 89.5)], True),
    # identify and alias add up: 6 + 4 = 10 %
    ([scenario("i", "identify", 6), scenario("a", "alias", 4), scenario("t", "track", 90)], False),
    (
        [scenario("i", "identify", 6), scenario("a", "alias", 4.5), scenario("t", "track", 89.5)],
        True,
    ),
    # for Segment a track event named `$identify` is just a track, not a merge
    ([scenario("t", "track", 1, api="segment", events=["$identify", "$create_alias"])], False),
    # batches weigh by events: 1 identify per 9 batched events is 10 %
    ([scenario("i", "identify", 1), scenario("b", "batch", 1, batch_size=9)], False),
    ([scenario("i", "identify", 1), scenario("b", "batch", 1, batch_size=8)], True),
]


@pytest.mark.parametrize(("scenarios", "warned"), SHARE)
def test_identify_alias_share(tmp_path: Path, scenarios: list[Any], warned: bool) -> None:
    v = verdict(tmp_path, scenarios=scenarios, users={"ordered": True})
    assert ("mix.identify-alias-share" in rules(v)) == warned
    assert not v.refused


def test_identify_alias_threshold_is_per_target(tmp_path: Path) -> None:
    mix = [scenario("i", "identify", 20), scenario("t", "track", 80)]
    assert "mix.identify-alias-share" in rules(verdict(tmp_path, scenarios=mix))
    relaxed = target(identify_alias_share=0.2)
    assert "mix.identify-alias-share" not in rules(verdict(tmp_path, relaxed, scenarios=mix))


MERGES = [scenario("i", "identify", 5), scenario("a", "alias", 2), scenario("t", "track", 93)]
HOT = {"count": 1, "skew": 0}  # one user gets every event: 50 events/s at the 50 req/s peak

# (scenarios, users, hot user threshold, warned?)
ORDER: list[tuple[list[Any], dict[str, Any], float, bool]] = [
    # unordered delivery: a user's alias can overtake its identify
    (MERGES, {"ordered": False}, 100, True),
    # ordered delivery and no hot user: the generator keeps each user's order
    (MERGES, {"ordered": True}, 100, False),
    # ordered, but the hottest user overflows: the pipeline may reorder it
    (MERGES, {"ordered": True, **HOT}, 49.9, True),
    # ... exactly at the threshold it does not
    (MERGES, {"ordered": True, **HOT}, 50, False),
    # aliases with no identify in the run depend on nothing in it
    ([scenario("a", "alias", 2), scenario("t", "track", 98)], {"ordered": False}, 100, False),
    # identifies alone cannot be overtaken by an alias
    ([scenario("i", "identify", 5), scenario("t", "track", 95)], {"ordered": False}, 100, False),
]


@pytest.mark.parametrize(("scenarios", "users", "threshold", "warned"), ORDER)
def test_alias_before_identify(
    tmp_path: Path, scenarios: list[Any], users: dict[str, Any], threshold: float, warned: bool
) -> None:
    v = verdict(
        tmp_path,
        target(hot_user_events_per_s=threshold),
        scenarios=scenarios,
        users=users,
        load={"start_rate": 0, "stages": stages((10, 50), (10, 50))},
    )
    assert ("mix.alias-before-identify" in rules(v)) == warned
