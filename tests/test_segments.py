"""Execution segments as the slices of a fleet: `i/n` is the i-th of n equal slices
(1-based), n slices' planned offsets union to the whole schedule exactly, and a slice's
request count is known exactly without listing it."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.schedule import ExecutionSegment, Schedule

SLICES = [
    ("1/1", Fraction(0), Fraction(1)),  # one worker runs everything
    ("1/3", Fraction(0), Fraction(1, 3)),  # the first of three starts at 0 (1-based i)
    ("2/3", Fraction(1, 3), Fraction(2, 3)),  # the middle one
    ("3/3", Fraction(2, 3), Fraction(1)),  # the last ends at 1
    ("7/10", Fraction(3, 5), Fraction(7, 10)),  # bounds are exact, reduced fractions
    (" 2 / 4 ", Fraction(1, 4), Fraction(1, 2)),  # spaces are forgiven
]


@pytest.mark.parametrize(("text", "low", "high"), SLICES)
def test_i_of_n_is_the_ith_of_n_equal_slices(text: str, low: Fraction, high: Fraction) -> None:
    segment = ExecutionSegment.parse(text)
    assert (segment.start, segment.end) == (low, high)


COUNTS = [
    ("1/2", 4, 2),  # points 0, 1/2, 1/4, 3/4: two below 1/2
    ("2/2", 4, 2),  # and two at or above it
    ("1/3", 0, 0),  # an empty schedule has nothing in any slice
    ("1/3", 1, 1),  # index 0's point is 0: always in the first slice
    ("2/3", 1, 0),  # ... and in no other
    ("1/4:3/4", 8, 4),  # 1/4, 1/2, 3/8, 5/8 of the first eight
    ("0:1", 12345, 12345),  # the whole of it
]


@pytest.mark.parametrize(("text", "total", "expected"), COUNTS)
def test_count_among_table(text: str, total: int, expected: int) -> None:
    assert ExecutionSegment.parse(text).count_among(total) == expected


@st.composite
def segments(draw: st.DrawFn) -> ExecutionSegment:
    denominator = draw(st.integers(1, 64))
    low = draw(st.integers(0, denominator - 1))
    high = draw(st.integers(low + 1, denominator))
    return ExecutionSegment(Fraction(low, denominator), Fraction(high, denominator))


@settings(max_examples=200)
@given(segments(), st.integers(0, 3000))
def test_count_among_is_the_brute_force_count(segment: ExecutionSegment, total: int) -> None:
    assert segment.count_among(total) == sum(segment.contains(j) for j in range(total))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 9),
    start_rate=st.floats(0, 50),
    stages=st.lists(st.tuples(st.floats(0, 5), st.floats(0, 120)), min_size=1, max_size=4).filter(
        lambda s: sum(d for d, _ in s) > 0
    ),
)
def test_n_slices_union_to_the_whole_schedule_exactly(
    n: int, start_rate: float, stages: list[tuple[float, float]]
) -> None:
    schedule = Schedule(start_rate, stages)
    whole = list(schedule.offsets())
    slices = [ExecutionSegment.parse(f"{i}/{n}") for i in range(1, n + 1)]
    parts = [list(schedule.offsets(s)) for s in slices]
    # disjoint, and together every (request, offset) pair of the whole, nothing more
    assert sorted(itertools.chain.from_iterable(parts)) == whole
    assert sum(len(p) for p in parts) == len(whole) == schedule.total_requests
    # each slice's count is known without listing it
    assert [schedule.requests_in(s) for s in slices] == [len(p) for p in parts]
