"""The ordering rule and the overflow simulation, on hand-built event sequences."""

from __future__ import annotations

import pytest

from loadgen.mock.model import Event
from loadgen.mock.pipeline import OrderingTracker, OverflowSimulator
from loadgen.mock.stats import ApiStats, StatsLimits


def identify(ident: str) -> Event:
    return Event("identify", None, ident, identifies=(ident,))


def alias(previous: str, new: str) -> Event:
    return Event("alias", None, previous, identifies=(new,), requires=previous)


def track(ident: str) -> Event:
    return Event("track", "e", ident)


# (events as (workspace, event), expected violations)
ORDERING_TABLE = [
    # the journey in order: identify, then alias -> fine
    ([("w", identify("u1")), ("w", alias("u1", "u1b"))], 0),
    # the alias first: a violation, even though the identify follows
    ([("w", alias("u1", "u1b")), ("w", identify("u1"))], 1),
    # a track does not identify anyone
    ([("w", track("u1")), ("w", alias("u1", "x"))], 1),
    # identified in another workspace does not count
    ([("a", identify("u1")), ("b", alias("u1", "x"))], 1),
    # chains are judged on their first link: u1b is known once its alias is accepted
    ([("w", identify("u1")), ("w", alias("u1", "u1b")), ("w", alias("u1b", "u1c"))], 0),
    # a violating alias still makes its new id known
    ([("w", alias("u1", "u2")), ("w", alias("u2", "u3"))], 1),
    # every early alias counts
    ([("w", alias("a", "b")), ("w", alias("c", "d")), ("w", identify("a"))], 2),
]


@pytest.mark.parametrize(("events", "violations"), ORDERING_TABLE)
def test_ordering_rule(events: list[tuple[str, Event]], violations: int) -> None:
    tracker = OrderingTracker()
    for workspace, event in events:
        tracker.observe(workspace, event)
    assert tracker.violations == violations


def test_overflow_after_the_burst_at_the_key_rate() -> None:
    sim = OverflowSimulator(rate=100.0, burst=1000.0)
    overflowed = sum(sim.observe("tok", "hot", 0.0) for _ in range(1500))
    assert overflowed == 500  # 1000 pass at once, the rest overflow
    assert not sim.observe("tok", "hot", 0.01)  # 0.01 s refills exactly one token
    assert sim.observe("tok", "hot", 0.01)
    assert not sim.observe("tok", "cold", 0.01)  # another key has its own bucket
    assert not sim.observe("other-token", "hot", 0.01)  # the key is token:distinct_id
    assert sim.events == 501


def test_overflow_off_and_keyless_events() -> None:
    assert not any(OverflowSimulator(rate=0.0).observe("t", "u", 0.0) for _ in range(5000))
    assert not OverflowSimulator(rate=1.0, burst=1.0).observe("t", None, 0.0)


def test_api_stats_counts_and_exempts_historical_batches() -> None:
    stats = ApiStats(StatsLimits(overflow_rate=1.0, overflow_burst=2.0))
    stats.accept("w", [track("u")] * 5, historical=True, now=0.0)
    assert stats.overflow.events == 0  # historical_migration never overflows
    stats.accept("w", [track("u")] * 5, historical=False, now=0.0)
    assert stats.overflow.events == 3
    snap = stats.snapshot()
    assert snap["events"] == 10 and snap["historical_events"] == 5
    assert snap["ops"] == {"track": 10}
    assert snap["distinct_ids"] == {
        "unique": 1,
        "exact": True,
        "top": [{"id": "u", "count": 10, "error": 0}],
    }


def test_event_names_are_capped() -> None:
    stats = ApiStats(StatsLimits())
    events = [Event("track", f"name-{i}", "u") for i in range(10_005)]
    stats.accept("w", events, historical=False, now=0.0)
    assert len(stats.event_names) == 10_000
    assert stats.event_names_other == 5
