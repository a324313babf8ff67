"""Pure arrival-time math: when each request of an open-model ramp is planned to start.

The rate curve is piecewise linear (one linear piece per stage; a zero-duration stage is
a jump). Convention: request number n (1-based) is planned at the first moment the area
under the rate curve reaches n. So at a constant 10 req/s the first request starts at
0.1 s and the last at the very end, the count started by time t is exactly
floor(area(t)), and a profile sends floor(total area) requests: nothing is quantized to
seconds, fractional remainders carry from one stage into the next, and nothing drifts.

Execution segments (k6's name) split the global request indices between workers without
coordination: index j (0-based) is mapped to the point x_j of the base-2 van der Corput
sequence (j's bits reversed behind the binary point, an exact dyadic fraction) and belongs
to the segment [a, b) that contains x_j. Any set of segments that tiles [0, 1) therefore
partitions the schedule exactly, and each segment's requests are striped evenly through time.

No clock, no asyncio: this module is tested with tables, properties and a Fraction oracle.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

_LOW_BITS = 16
_LOW_MASK = (1 << _LOW_BITS) - 1
_OUT, _IN, _CHECK = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Stage:
    """One linear piece of the rate curve, with its place on the timeline."""

    start_s: float
    duration_s: float
    start_rate: float
    end_rate: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


class ExecutionSegmentError(ValueError):
    """An execution segment string (`--segment`) that cannot be read."""


@dataclass(frozen=True, slots=True)
class ExecutionSegment:
    """The share [start, end) of the unit interval a worker owns (exact fractions), as k6's
    execution segment; not to be confused with the Segment API (`scenarios/segment.py`)."""

    start: Fraction = Fraction(0)
    end: Fraction = Fraction(1)

    @property
    def is_full(self) -> bool:
        return self.start == 0 and self.end == 1

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"

    @classmethod
    def parse(cls, text: str) -> ExecutionSegment:
        """`"2/4"` is the 2nd of 4 equal segments, `"1/3:2/3"` an explicit range."""
        text = text.strip()
        try:
            if ":" in text:
                low, high = (Fraction(part.strip()) for part in text.split(":", 1))
            elif match := re.fullmatch(r"(\d+)\s*/\s*(\d+)", text):
                i, n = int(match.group(1)), int(match.group(2))
                if not 1 <= i <= n:
                    raise ExecutionSegmentError(f"segment {text!r}: write i/n with 1 <= i <= n")
                low, high = Fraction(i - 1, n), Fraction(i, n)
            else:
                raise ExecutionSegmentError(
                    f"segment {text!r}: write i/n (e.g. 2/4) or a:b (e.g. 1/3:2/3)"
                )
        except (ValueError, ZeroDivisionError) as exc:
            if isinstance(exc, ExecutionSegmentError):
                raise
            raise ExecutionSegmentError(f"segment {text!r}: {exc}") from None
        if not 0 <= low < high <= 1:
            raise ExecutionSegmentError(f"segment {text!r}: need 0 <= start < end <= 1")
        return cls(low, high)

    def point(self, index: int) -> Fraction:
        """The van der Corput point of 0-based `index`: its bits mirrored behind the point."""
        if index == 0:
            return Fraction(0)
        bits = index.bit_length()
        return Fraction(int(format(index, "b")[::-1], 2), 1 << bits)

    def contains(self, index: int) -> bool:
        return self.start <= self.point(index) < self.end

    def count_among(self, total: int) -> int:
        """How many of the indices 0 .. total-1 are in this segment, exactly, in O(log total)."""
        return _points_below(total, self.end) - _points_below(total, self.start)

    def low_bits_table(self) -> bytes:
        """For each value of an index's low 16 bits: always in, never in, or check exactly.

        The low bits fix the leading 16 binary digits of the index's point, i.e. a cell
        [r, r + 1) / 2**16 with r the bits reversed; only the (at most two) cells that
        straddle a boundary of the segment need the exact test.
        """
        scale = 1 << _LOW_BITS
        low, high = self.start * scale, self.end * scale
        first_in, last_in = math.ceil(low), math.floor(high) - 1  # cells wholly inside
        last_before, first_after = math.floor(low) - 1, math.ceil(high)  # wholly outside
        by_cell = bytearray([_CHECK]) * scale
        by_cell[: max(0, last_before + 1)] = bytes(max(0, last_before + 1))  # _OUT is 0
        by_cell[first_after:] = bytes(max(0, scale - first_after))
        if last_in >= first_in:
            by_cell[first_in : last_in + 1] = bytes([_IN]) * (last_in + 1 - first_in)
        return bytes(by_cell[r] for r in _reversed_low_bits())


def _points_below(total: int, x: Fraction) -> int:
    """How many j in [0, total) have a van der Corput point below `x`.

    The even indices 2k have the points of k halved, the odd ones 2k + 1 those halved and
    moved up by 1/2; so the count below x splits into the evens below 2x and the odds below
    2x - 1, one of which is trivially all or none: a loop, not a tree.
    """
    count = 0
    while total > 0 and 0 < x < 1:
        evens, odds = (total + 1) // 2, total // 2
        if x <= Fraction(1, 2):  # no odd index is below x: only evens below 2x
            total, x = evens, 2 * x
        else:  # every even index is below x; the odds below 2x - 1
            count += evens
            total, x = odds, 2 * x - 1
    return count + (total if x >= 1 else 0)


@functools.cache
def _reversed_low_bits() -> tuple[int, ...]:
    """r -> r with its 16 bits in reverse order (computed once, on first use)."""
    return tuple(int(format(r, f"0{_LOW_BITS}b")[::-1], 2) for r in range(1 << _LOW_BITS))


FULL_SEGMENT = ExecutionSegment()


class Schedule:
    """The planned start offsets (seconds from the run's start) of a ramp profile."""

    def __init__(self, start_rate: float, stages: Sequence[tuple[float, float]]) -> None:
        """`stages` are (duration_s, target_rate) pairs, as in the profile."""
        built: list[Stage] = []
        begin, rate = 0.0, float(start_rate)
        for duration, target in stages:
            built.append(Stage(begin, float(duration), rate, float(target)))
            begin, rate = begin + float(duration), float(target)
        self.stages: tuple[Stage, ...] = tuple(built)
        # Exact cumulative area at each stage's start, so remainders carry without drift.
        self._area_before: list[Fraction] = []
        self._stage_areas = [_stage_area(stage) for stage in self.stages]
        # Stage ends, for a binary search: a scan per lookup made plan and the guard
        # quadratic in the stage count.
        self._ends = [stage.end_s for stage in self.stages]
        total = Fraction(0)
        for area in self._stage_areas:
            self._area_before.append(total)
            total += area
        self.total_area: Fraction = total
        self.total_requests: int = math.floor(total)
        self._peak = max((r for s in self.stages for r in (s.start_rate, s.end_rate)), default=0.0)

    @property
    def duration_s(self) -> float:
        return self.stages[-1].end_s if self.stages else 0.0

    @property
    def peak_rate(self) -> float:
        return self._peak

    def stage_requests(self, index: int) -> float:
        """The requests planned in stage `index` (the area under its piece of the curve)."""
        return float(self._stage_areas[index])

    def rate_at(self, t: float) -> float:
        """The planned rate at `t` (right-continuous at jumps)."""
        index = bisect.bisect_right(self._ends, t)  # the first stage ending after t
        if index < len(self.stages) and self.stages[index].start_s <= t:
            stage = self.stages[index]
            return _rate_in(stage, t - stage.start_s)
        return self.stages[-1].end_rate if self.stages and t >= self.duration_s else 0.0

    def area_at(self, t: float) -> float:
        """Requests planned by `t`, as a real number (the area under the curve)."""
        index = bisect.bisect_right(self._ends, t)
        if index == len(self.stages):
            return float(self.total_area)
        stage, before = self.stages[index], self._area_before[index]
        dt = max(0.0, t - stage.start_s)
        return float(before) + dt * (stage.start_rate + _rate_in(stage, dt)) / 2

    def count_by(self, t: float) -> int:
        """How many requests are planned to have started by time `t` (inclusive)."""
        return math.floor(self.area_at(t) + 1e-9)

    def requests_in(self, segment: ExecutionSegment = FULL_SEGMENT) -> int:
        """How many planned requests belong to `segment` (without listing them)."""
        return segment.count_among(self.total_requests)

    def offsets(self, segment: ExecutionSegment = FULL_SEGMENT) -> Iterator[tuple[int, float]]:
        """Yield (n, offset_s) for every planned request n (1-based) in `segment`, in order."""
        if segment.is_full:
            yield from self._all_offsets()
            return
        table = segment.low_bits_table()
        for n, offset in self._all_offsets():
            state = table[(n - 1) & _LOW_MASK]
            if state == _IN or (state == _CHECK and segment.contains(n - 1)):
                yield n, offset

    def _all_offsets(self) -> Iterator[tuple[int, float]]:
        previous = 0.0
        for stage, before, area in zip(
            self.stages, self._area_before, self._stage_areas, strict=True
        ):
            after = before + area
            first, last = math.floor(before) + 1, math.floor(after)
            if last < first:
                continue
            base = math.floor(before)
            carried = float(before - base)  # the fraction of a request owed by earlier stages
            r0, start, end = stage.start_rate, stage.start_s, stage.end_s
            slope2 = 2 * (stage.end_rate - r0) / stage.duration_s
            r0_sq = r0 * r0
            for n in range(first, last + 1):
                x = (n - base) - carried
                # Exact inversion of r0*t + slope*t^2/2 = x, in the form without cancellation.
                # The divisor is 0 only for a stage starting at rate 0 with x rounded to 0
                # (the area before it lands a float's width short of n): n is due at its start.
                divisor = r0 + math.sqrt(max(0.0, r0_sq + slope2 * x))
                t = start + 2 * x / divisor if divisor > 0 else start
                t = min(t, end)
                previous = t if t > previous else previous
                yield n, previous


def _stage_area(stage: Stage) -> Fraction:
    return (Fraction(stage.start_rate) + Fraction(stage.end_rate)) / 2 * Fraction(stage.duration_s)


def _rate_in(stage: Stage, dt: float) -> float:
    if stage.duration_s == 0:
        return stage.end_rate
    return stage.start_rate + (stage.end_rate - stage.start_rate) * dt / stage.duration_s
