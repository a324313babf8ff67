"""The mock's counters an import is judged by: duplicate event ids and the busiest 1 s."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.importer.progress import PlainLines, Snapshot
from loadgen.mock.stats import Busiest, EventIds

IDS = [
    # (ids accepted in order, limit, duplicates, exact)
    (["a", "b", "c"], 10, 0, True),  # all distinct
    (["a", "b", "a", "a"], 10, 2, True),  # a resent twice
    ([None, None, "a"], 10, 0, True),  # events without ids are never duplicates
    (["a", "b", "c", "a"], 2, 1, False),  # past the limit: c is not kept, a still checked
]


@pytest.mark.parametrize(("ids", "limit", "duplicates", "exact"), IDS)
def test_duplicate_event_ids_are_counted(
    ids: list[str | None], limit: int, duplicates: int, exact: bool
) -> None:
    seen = EventIds(limit)
    for event_id in ids:
        seen.add(event_id)
    assert (seen.duplicates, seen.exact) == (duplicates, exact)


BUSIEST = [
    # (arrival times, the most in any 1 s window)
    ([0.0, 0.5, 0.99], 3),  # all inside one second
    ([0.0, 1.0, 2.0], 1),  # a window is (t - 1, t]: arrivals exactly 1 s apart never share one
    ([0.0, 0.9, 1.5, 1.6], 3),  # the sliding window 0.9 .. 1.6, not the fixed second
]


@pytest.mark.parametrize(("times", "most"), BUSIEST)
def test_the_busiest_second_slides(times: list[float], most: int) -> None:
    busiest = Busiest()
    for t in times:
        busiest.arrive(t)
    assert busiest.most == most


@given(st.lists(st.floats(0, 100), max_size=200))
def test_the_busiest_second_matches_a_brute_force_count(times: list[float]) -> None:
    ordered = sorted(times)
    busiest = Busiest()
    for t in ordered:
        busiest.arrive(t)
    brute = max((sum(1 for u in ordered if t - 1 < u <= t) for t in ordered), default=0)
    assert busiest.most == brute


def test_the_plain_progress_line_says_what_the_issue_asks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = PlainLines()
    lines.start(1000, 0)
    lines.update(Snapshot(250, 240, 10, 3, 2, 50.0))
    err = capsys.readouterr().err
    for part in (
        "250/1,000 records",
        "50 events/s",
        "ETA 0m15s",
        "429s 2",
        "retries 3",
        "dead-lettered 10",
    ):
        assert part in err
