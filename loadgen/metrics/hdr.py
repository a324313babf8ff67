"""HDR histogram helpers: bulk recording, exact percentiles, stats, and the wire encoding.

Every histogram is `HdrHistogram(1, 3_600_000_000, 3)`: 1 µs to 1 h at 3 significant digits.
`hdrh.record_value` costs ~1 µs of Python per value; the hot path instead buffers raw values
and `record_counts` adds a `{value: count}` batch straight into the counts array (the same
index math, checked against `record_value` by the tests). Percentiles and stats are computed
from the counts array with C-speed `accumulate`/`bisect`, and give exactly what hdrh's own
(slow, pure-Python) `get_value_at_percentile` / `get_mean_value` return.
"""

from __future__ import annotations

import ctypes
import sys
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour; larger values are clamped to it and counted
SIGNIFICANT_DIGITS = 3

# The percentiles every latency block reports, and their artifact keys.
STAT_PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p99_9", 99.9),
)
STAT_KEYS: tuple[str, ...] = ("min", *(k for k, _ in STAT_PERCENTILES), "max", "mean")


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def clear(h: HdrHistogram) -> None:
    """Reset in C (hdrh's `reset` loops over 23,552 counters in Python)."""
    ctypes.memset(h.counts, 0, ctypes.sizeof(h.counts))
    h.total_count = 0
    h.min_value = sys.maxsize  # hdrh's "no minimum yet" marker
    h.max_value = 0


def index_of(h: HdrHistogram, value: int) -> int:
    """The counts index hdrh's `record_value` would use for `value` (0 <= value)."""
    b = (
        (value | h.sub_bucket_mask).bit_length()
        - h.unit_magnitude
        - (h.sub_bucket_half_count_magnitude + 1)
    )
    return int(
        ((b + 1) << h.sub_bucket_half_count_magnitude)
        + (value >> (b + h.unit_magnitude))
        - h.sub_bucket_half_count
    )


def clamp_counts(values: Mapping[int, int]) -> tuple[dict[int, int], int]:
    """Fold values outside [0, HIGHEST_US] onto the bounds; returns the copy and how many
    recorded values were moved (negative ones can only come from a clock going backwards)."""
    out: dict[int, int] = {}
    moved = 0
    for value, count in values.items():
        fixed = min(max(value, 0), HIGHEST_US)
        if fixed != value:
            moved += count
        out[fixed] = out.get(fixed, 0) + count
    return out, moved


def record_counts(values: Mapping[int, int], *histograms: HdrHistogram) -> int:
    """Add `{value: count}` to each histogram as `record_value(value, count)` would, clamping
    values to [0, HIGHEST_US]; returns how many values were clamped. The index of each
    distinct value is computed once for all the histograms."""
    if not values or not histograms:
        return 0
    lo, hi = min(values), max(values)
    moved = 0
    if lo < 0 or hi > HIGHEST_US:
        values, moved = clamp_counts(values)
        lo, hi = min(values), max(values)
    h = histograms[0]
    mask, um = h.sub_bucket_mask, h.unit_magnitude
    hm, half = h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count
    shift = um + hm + 1
    first = h.counts
    rest = [other.counts for other in histograms[1:]]
    for value, count in values.items():
        b = (value | mask).bit_length() - shift
        index = ((b + 1) << hm) + (value >> (b + um)) - half
        first[index] += count
        for counts in rest:
            counts[index] += count
    added = sum(values.values())
    for target in histograms:
        target.total_count += added
        target.min_value = min(target.min_value, lo)
        target.max_value = max(target.max_value, hi)
    return moved


def _used_counts(h: HdrHistogram) -> list[int]:
    """The counts up to the highest recorded index (a C-speed slice of the ctypes array)."""
    if not h.total_count:
        return []
    counts: list[int] = h.counts[: index_of(h, h.max_value) + 1]
    return counts


def percentiles_us(h: HdrHistogram, percentiles: Sequence[float]) -> list[int | None]:
    """Values at `percentiles` (0 < p <= 100), exactly as `get_value_at_percentile`; None
    for an empty histogram."""
    cumulative = list(accumulate(_used_counts(h)))
    if not cumulative:
        return [None] * len(percentiles)
    total = cumulative[-1]
    out: list[int | None] = []
    for p in percentiles:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        index = bisect_left(cumulative, target)
        out.append(h.get_highest_equivalent_value(h.get_value_from_index(index)))
    return out


def percentile_ms(h: HdrHistogram, percentile: float) -> float | None:
    (value,) = percentiles_us(h, (percentile,))
    return None if value is None else value / 1000


def stats_ms(h: HdrHistogram) -> dict[str, float | None]:
    """min, p50, p90, p95, p99, p99_9, max, mean in milliseconds (all None when empty).

    min/max are bucket bounds taken from the counts, so a decoded or merged histogram gives
    the same figures as the one it came from (hdrh's own `min_value` does not survive `add`)."""
    used = _used_counts(h)
    nonzero = [(i, c) for i, c in enumerate(used) if c]
    if not nonzero:
        return dict.fromkeys(STAT_KEYS)
    values = percentiles_us(h, [p for _, p in STAT_PERCENTILES])
    total = sum(c for _, c in nonzero)
    weighted = 0
    for index, count in nonzero:
        low = h.get_value_from_index(index)
        size = h.get_highest_equivalent_value(low) - low + 1
        weighted += count * (low + (size >> 1))  # hdrh's "median equivalent value"
    out: dict[str, float | None] = {"min": h.get_value_from_index(nonzero[0][0]) / 1000}
    for (key, _), value in zip(STAT_PERCENTILES, values, strict=True):
        out[key] = None if value is None else value / 1000
    last = h.get_value_from_index(nonzero[-1][0])
    out["max"] = h.get_highest_equivalent_value(last) / 1000
    out["mean"] = round(weighted / total / 1000, 6)
    return out


def total_count(h: HdrHistogram) -> int:
    count: int = h.total_count
    return count


def encode(h: HdrHistogram) -> str:
    """The standard HdrHistogram V2 compressed, base64 form (readable by every HDR port)."""
    blob: bytes = h.encode()
    return blob.decode("ascii")


def decode(text: str) -> HdrHistogram:
    """Inverse of `encode`; raises ValueError on anything that is not an HDR histogram."""
    try:
        h: HdrHistogram = HdrHistogram.decode(text.encode("ascii"))
    except Exception as exc:  # hdrh raises a mix of its own, zlib, base64 and ctypes errors
        raise ValueError(f"not an HdrHistogram V2 base64 encoding: {exc}") from exc
    return h


def add_into(dst: HdrHistogram, src: HdrHistogram) -> None:
    """`dst += src`, losslessly (C array add), keeping min/max right when `dst` was empty."""
    if not src.total_count:
        return
    was_empty = not dst.total_count
    dst.add(src)
    if was_empty:  # hdrh's add() takes min(dst.get_min_value(), ...) and that is 0 when empty
        dst.min_value = src.get_min_value()


def merged(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    out = new_histogram()
    for h in histograms:
        add_into(out, h)
    return out


def without(total: HdrHistogram, part: HdrHistogram) -> HdrHistogram:
    """A new histogram of `total` minus `part`, count by count (`part` must have been
    recorded into `total` as well, as the errors' latency is into all latency)."""
    out = new_histogram()
    if not total.total_count:
        return out
    used = _used_counts(total)
    removed = part.counts[: len(used)] if part.total_count else [0] * len(used)
    remaining = 0
    for index, (count, minus) in enumerate(zip(used, removed, strict=True)):
        left = count - minus
        if left < 0:
            raise ValueError("`part` has values that `total` does not")
        if left:
            out.counts[index] = left
            remaining += left
    out.total_count = remaining
    if remaining:
        out.min_value = total.min_value
        out.max_value = total.max_value  # an upper bound: the figures read the counts
    return out
