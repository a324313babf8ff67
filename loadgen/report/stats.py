"""The statistics a summary shows for a latency histogram, in k6's `--summary-trend-stats`
syntax: `avg,min,med,p(90),p(95),p(99.9),max,count`.

Every value is read from an HDR histogram, never from the artifact's rounded figures, so
any percentile works (`p(99.99)` as well as `p(95)`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.errors import UsageError
from loadgen.metrics import hdr

NAMED = ("avg", "min", "med", "max", "count")
VALID = "avg, min, med, max, count, p(N) with 0 < N <= 100"
DEFAULT_STATS = "med,p(90),p(95),p(99),max"
_PERCENTILE = re.compile(r"^p\((\d+(?:\.\d+)?)\)$")


@dataclass(frozen=True, slots=True)
class Stat:
    """One statistic: `kind` is a name of NAMED or "p"; `percentile` is set for "p"."""

    label: str  # as the user wrote it, normalised: `p(95)`, `med`
    kind: str
    percentile: float | None = None

    def of(self, h: HdrHistogram) -> float | None:
        """This statistic of `h` in milliseconds (a count for `count`); None when empty."""
        if self.kind == "count":
            return float(hdr.total_count(h))
        if not hdr.total_count(h):
            return None
        if self.kind == "p" and self.percentile is not None:
            return hdr.percentile_ms(h, self.percentile)
        if self.kind == "med":
            return hdr.percentile_ms(h, 50.0)
        key = "mean" if self.kind == "avg" else self.kind
        return hdr.stats_ms(h)[key]


# The artifact's recorded figure for a stat, used only for artifacts without histograms.
RECORDED_KEYS = {"med": "p50", "avg": "mean", "min": "min", "max": "max"}


def recorded_key(stat: Stat) -> str | None:
    """The `latency_ms` key holding `stat`, if the artifact records it."""
    if stat.kind == "p" and stat.percentile is not None:
        key = f"p{stat.percentile:g}".replace(".", "_")
        return key if key in hdr.STAT_KEYS else None
    return RECORDED_KEYS.get(stat.kind)


def parse_stat(item: str) -> Stat | None:
    """One item of the list (`p(95)`, `avg`, ...), or None when it is not one."""
    word = item.strip()
    if word in NAMED:
        return Stat(word, word)
    match = _PERCENTILE.match(word)
    if match is None:
        return None
    value = float(match.group(1))
    if not 0 < value <= 100:
        return None
    return Stat(f"p({value:g})", "p", value)


def parse_stats(text: str, option: str = "--summary-stats") -> tuple[Stat, ...]:
    """The comma-separated list, in order, duplicates dropped; a bad item is a usage error
    naming it and the valid ones."""
    items = [item.strip() for item in text.split(",")]
    bad = [item for item in items if parse_stat(item) is None]
    if bad or not text.strip():
        shown = ", ".join(repr(item) for item in bad) if text.strip() else "an empty list"
        raise UsageError(
            f"{option} {text!r}: {shown} is not a statistic; valid ones are {VALID} "
            f'(e.g. {option} "avg,min,med,p(90),p(95),p(99.9),max,count")'
        )
    stats: list[Stat] = []
    for item in items:
        stat = parse_stat(item)
        if stat is not None and stat not in stats:
            stats.append(stat)
    return tuple(stats)


def values_of(stats: Sequence[Stat], h: HdrHistogram) -> list[float | None]:
    return [stat.of(h) for stat in stats]


def format_value(stat: Stat, value: float | None) -> str:
    """A count as an integer, milliseconds with two decimals, "-" for no data."""
    if value is None:
        return "-"
    return f"{int(value):,}" if stat.kind == "count" else f"{value:,.2f}"


def histogram(doc: dict[str, Any], name: str) -> HdrHistogram | None:
    """The artifact's histogram `name` (`latency`, `service:track`, ...), if it has it."""
    text = doc.get("histograms", {}).get(name)
    return None if text is None else hdr.decode(text)


def response_histogram(doc: dict[str, Any], scenario: str | None = None) -> HdrHistogram | None:
    """The latency of the attempts that got a response, overall or for `scenario` (None for
    an artifact without that histogram). "latency" holds transport errors too, and a
    refused connection fails fast: mixed in, it would look like a fast answer."""
    suffix = f":{scenario}" if scenario else ""
    every = histogram(doc, f"latency{suffix}")
    errors = histogram(doc, f"error_latency{suffix}")
    if every is None:
        return None
    return every if errors is None else hdr.without(every, errors)
