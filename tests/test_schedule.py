"""The arrival schedule: table tests against hand-computed offsets, a Fraction oracle,
and properties (monotone, count(t) = floor(area(t)), segments partition exactly)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.schedule import (
    FULL_SEGMENT,
    ExecutionSegment,
    ExecutionSegmentError,
    Schedule,
)

# (start_rate, stages, expected offsets of the first requests, expected total)
OFFSET_TABLE = [
    # a constant 10 req/s: request n at n/10 s, the last one exactly at the end
    (10, [(1, 10)], [0.1, 0.2, 0.3], 10),
    # ramp 0 -> 10 over 10 s: area t^2/2 reaches n at sqrt(2n)
    (0, [(10, 10)], [math.sqrt(2), 2.0, math.sqrt(6)], 50),
    # ramp down 10 -> 0 over 10 s: 10t - t^2/2 = n  =>  t = 10 - sqrt(100 - 2n)
    (10, [(10, 0)], [10 - math.sqrt(98), 10 - math.sqrt(96)], 50),
    # a zero-rate stage sends nothing; the next one starts counting at its own start
    (0, [(5, 0), (1, 4)], [5 + math.sqrt(0.5), 5 + 1.0], 2),
    # very low rate: 0.5 req/s for 5 s = 2.5 requests -> 2 sent, at 2 s and 4 s
    (0.5, [(5, 0.5)], [2.0, 4.0], 2),
    # the fraction left over (0.5 of a request) carries into the next stage
    (0.5, [(3, 0.5), (1, 0.5)], [2.0, 4.0], 2),
    # a jump (zero-duration stage) changes the rate at once, with no requests in it
    (1, [(2, 1), (0, 10), (1, 10)], [1.0, 2.0, 2.1], 12),
    # rates that are not binary fractions still give exact totals: 0.1 * 30 = 3
    (0.1, [(30, 0.1)], [10.0, 20.0, 30.0], 3),
    # the first two stages' area is a float's width short of 1 (0.2 and 0.3 are not exact):
    # request 1 falls at the start of a stage starting at rate 0 (found by hypothesis)
    (0.2, [(2.5, 0.3), (2.5, 0), (0.5, 0.3)], [5.0], 1),
]


@pytest.mark.parametrize(("start", "stages", "expected", "total"), OFFSET_TABLE)
def test_offsets_match_hand_computed_values(
    start: float, stages: list[tuple[float, float]], expected: list[float], total: int
) -> None:
    schedule = Schedule(start, stages)
    offsets = [t for _, t in schedule.offsets()]
    assert schedule.total_requests == total
    assert len(offsets) == total
    assert offsets[: len(expected)] == pytest.approx(expected, abs=1e-9)


def test_first_request_waits_for_a_whole_request_of_area() -> None:
    # The stated convention: request 1 starts when the area reaches 1, never at t = 0.
    assert next(Schedule(4, [(10, 4)]).offsets()) == (1, 0.25)


def test_hours_long_profile_has_no_drift() -> None:
    # 2 hours at 500 req/s: exactly 3,600,000 requests and the last one at the very end.
    schedule = Schedule(500, [(2 * 3600, 500)])
    assert schedule.total_requests == 3_600_000
    last = (0, 0.0)
    for item in schedule.offsets():
        last = item
    assert last[0] == 3_600_000
    assert last[1] == pytest.approx(2 * 3600, abs=1e-6)


def test_long_ramp_count_matches_area_at_checkpoints() -> None:
    schedule = Schedule(0, [(3600, 500), (3600, 500), (600, 0)])
    checkpoints = {600.0: 0, 3600.0: 0, 5000.0: 0, 7200.0: 0, 7800.0: 0}
    for _, t in schedule.offsets():
        for point in checkpoints:
            if t <= point:
                checkpoints[point] += 1
    for point, count in checkpoints.items():
        assert abs(count - math.floor(schedule.area_at(point))) <= 1


def _oracle_offsets(start: float, stages: list[tuple[float, float]]) -> list[float]:
    """Slow reference: bisect the exact (Fraction) area for each n."""
    pieces, begin, rate = [], Fraction(0), Fraction(start)
    for duration, target in stages:
        pieces.append((begin, Fraction(duration), rate, Fraction(target)))
        begin, rate = begin + Fraction(duration), Fraction(target)

    def area(t: Fraction) -> Fraction:
        total = Fraction(0)
        for b, d, r0, r1 in pieces:
            if t <= b:
                break
            dt = min(t - b, d)
            slope = (r1 - r0) / d if d else Fraction(0)
            total += r0 * dt + slope * dt * dt / 2
        return total

    end = begin
    offsets = []
    for n in range(1, math.floor(area(end)) + 1):
        low, high = Fraction(0), end
        for _ in range(50):
            mid = (low + high) / 2
            if area(mid) >= n:
                high = mid
            else:
                low = mid
        offsets.append(float(high))
    return offsets


stage_st = st.tuples(
    st.sampled_from([0, 0.5, 1, 2.5, 7, 12]), st.sampled_from([0, 0.3, 1, 4, 9.5, 20])
)


@settings(max_examples=30, deadline=None)
@given(start=st.sampled_from([0, 0.2, 1, 5, 12]), stages=st.lists(stage_st, min_size=1, max_size=4))
def test_offsets_agree_with_the_fraction_oracle(
    start: float, stages: list[tuple[float, float]]
) -> None:
    schedule = Schedule(start, stages)
    fast = [t for _, t in schedule.offsets()]
    slow = _oracle_offsets(start, stages)
    assert len(fast) == len(slow) == schedule.total_requests
    assert fast == pytest.approx(slow, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    start=st.floats(0, 50),
    stages=st.lists(st.tuples(st.floats(0, 20), st.floats(0, 50)), min_size=1, max_size=5),
)
def test_offsets_never_decrease_and_count_equals_floor_of_area(
    start: float, stages: list[tuple[float, float]]
) -> None:
    schedule = Schedule(start, stages)
    offsets = [t for _, t in schedule.offsets()]
    assert offsets == sorted(offsets)
    assert all(0 <= t <= schedule.duration_s + 1e-9 for t in offsets)
    for probe in (schedule.duration_s * k / 7 for k in range(8)):
        started = sum(1 for t in offsets if t <= probe)
        assert abs(started - math.floor(schedule.area_at(probe))) <= 1


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 7), rate=st.floats(1, 300), duration=st.floats(0.5, 20))
def test_n_segments_together_are_exactly_the_whole_schedule(
    n: int, rate: float, duration: float
) -> None:
    schedule = Schedule(0, [(duration, rate), (duration, rate)])
    whole = list(schedule.offsets())
    parts = [list(schedule.offsets(ExecutionSegment.parse(f"{i}/{n}"))) for i in range(1, n + 1)]
    merged = sorted(item for part in parts for item in part)
    assert merged == whole
    # and every segment gets its fair share, give or take a few
    for part in parts:
        assert abs(len(part) - len(whole) / n) <= 2 + math.log2(len(whole) + 1)


def test_uneven_explicit_segments_partition_exactly() -> None:
    schedule = Schedule(50, [(40, 50)])
    cuts = [Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(5, 7), Fraction(1)]
    parts = [set(schedule.offsets(ExecutionSegment(a, b))) for a, b in itertools.pairwise(cuts)]
    assert sum(len(p) for p in parts) == schedule.total_requests
    assert set().union(*parts) == set(schedule.offsets())


def test_segment_membership_uses_exact_van_der_corput_points() -> None:
    seg = ExecutionSegment.parse("1/2")
    # index 0 -> 0, 1 -> 1/2, 2 -> 1/4, 3 -> 3/4: evens land in [0, 1/2)
    assert [seg.contains(j) for j in range(4)] == [True, False, True, False]
    assert ExecutionSegment().point(6) == Fraction(3, 8)  # 6 = 0b110 -> 0.011b = 3/8


SEGMENT_TABLE = [
    ("1/4", Fraction(0), Fraction(1, 4)),  # first of four
    ("4/4", Fraction(3, 4), Fraction(1)),  # last of four
    ("1/3:2/3", Fraction(1, 3), Fraction(2, 3)),  # explicit range
    ("0:1", Fraction(0), Fraction(1)),  # the whole schedule
    ("0.25:0.5", Fraction(1, 4), Fraction(1, 2)),  # decimals are exact too
]


@pytest.mark.parametrize(("text", "low", "high"), SEGMENT_TABLE)
def test_segment_parse(text: str, low: Fraction, high: Fraction) -> None:
    assert ExecutionSegment.parse(text) == ExecutionSegment(low, high)


@pytest.mark.parametrize(
    "text",
    [
        "0/4",  # segments are numbered from 1
        "5/4",  # beyond the last
        "1/2:1/3",  # empty / reversed range
        "0:3/2",  # past the end of the unit interval
        "half",  # not a fraction at all
        "1/0:1",  # division by zero
    ],
)
def test_segment_parse_rejects(text: str) -> None:
    with pytest.raises(ExecutionSegmentError):
        ExecutionSegment.parse(text)


def test_full_segment_is_default() -> None:
    assert FULL_SEGMENT.is_full and str(FULL_SEGMENT) == "0:1"


def test_rate_and_area_helpers() -> None:
    schedule = Schedule(0, [(10, 100), (5, 100)])
    assert schedule.rate_at(5) == 50
    assert schedule.rate_at(12) == 100
    assert schedule.area_at(10) == 500
    assert schedule.area_at(15) == 1000
    assert schedule.peak_rate == 100
    assert schedule.duration_s == 15


@pytest.mark.parametrize("text", ["1/3", "2/3", "5/7:6/7", "0:1/65536", "1/2:1"])
def test_low_bits_table_agrees_with_exact_membership(text: str) -> None:
    segment = ExecutionSegment.parse(text)
    table = segment.low_bits_table()
    for j in range(0, 200_000, 7):
        state = table[j & 0xFFFF]
        fast = state == 1 or (state == 2 and segment.contains(j))
        assert fast == segment.contains(j), j
