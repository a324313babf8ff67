"""One streaming look at an import file, for the brief (`loadgen brief --import EVENTS`).

The file is read record by record with replay's readers (`scenarios/replay.py`: NDJSON or
CSV, every record at most 1 MiB, file:line for anything malformed), so memory stays flat
whatever the file holds. What the pipeline team's handbook asks is counted on the way:
events per distinct_id and per event name, identifies/aliases/merges, the timestamps' span,
the records' encoded sizes.

Counting per distinct_id is exact (a dict, about 150 bytes per distinct id) up to
`EXACT_IDS` ids. Past that the counter becomes a Misra-Gries summary of `CANDIDATES`
counters: every id with more than total / (CANDIDATES + 1) events is guaranteed to be among
them, and a second pass over the file counts exactly those candidates. So the top ids and
the hot ids the brief names always carry exact counts, and memory stays bounded (at most
`EXACT_IDS` entries) however many ids the file has. Event names are counted the same way.
"""

from __future__ import annotations

import io
import math
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from loadgen.apis import RULES
from loadgen.errors import LoadgenError, UsageError
from loadgen.inputs.files import UnreadableInput, display_path, open_regular
from loadgen.scenarios.api_format import RecordError
from loadgen.scenarios.replay import csv_records, ndjson_records, parse_time

Format = Literal["ndjson", "csv"]
Category = Literal["identify", "alias", "merge", "event"]
EXACT_IDS = 100_000  # ~15 MB of dict at most; the handbook's question needs only the top 100
CANDIDATES = 10_000  # ids with more than 0.01 % of the events are always found
EXACT_NAMES = 1_000  # event names are few; a file with more is probably malformed
NAME_CANDIDATES = 200
EVENT_LIMITS = tuple(
    sorted({lim.event_bytes for rules in RULES.values() for lim in rules.limits.values()})
)  # ascending
MAX_BURST_WINDOW = 200_000  # records; beyond, the window alone would take ~25 MB
MAX_BURST_IDS = 10_000  # the hot ids remembered with their busiest second
MALFORMED_SHOWN = 20  # the brief lists the first ones, as file:line
# Names that merge persons: the handbook's "identify / alias / merge" call-outs.
_POSTHOG_CATEGORY: dict[str, Category] = {
    "$identify": "identify",
    "$create_alias": "alias",
    "$merge_dangerously": "merge",
}
_SEGMENT_CATEGORY: dict[str, Category] = {"identify": "identify", "alias": "alias"}
_CUSTOMERIO_CATEGORY: dict[str, Category] = {"identify": "identify", "merge": "merge"}


class ImportScanError(LoadgenError):
    """The import file cannot be read, or holds no usable record (file:line: why)."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What the brief needs of one record."""

    distinct_id: str
    event: str
    category: Category
    timestamp: float | None  # unix seconds; None when the record has none
    size: int  # bytes of the record encoded as JSON, as an API receives it


class HeavyHitters:
    """Counts per key: exact up to `exact_limit` keys, then a Misra-Gries summary of
    `capacity` counters (each an underestimate by at most total / (capacity + 1))."""

    __slots__ = ("capacity", "counts", "exact", "exact_limit", "total")

    def __init__(self, exact_limit: int, capacity: int) -> None:
        self.exact_limit, self.capacity = exact_limit, min(capacity, exact_limit)
        self.counts: dict[str, int] = {}
        self.exact = True
        self.total = 0

    def add(self, key: str) -> None:
        self.total += 1
        counts = self.counts
        if key in counts:
            counts[key] += 1
        elif self.exact:
            counts[key] = 1
            if len(counts) > self.exact_limit:
                self.exact = False
                self._shrink()
        elif len(counts) < self.capacity:
            counts[key] = 1
        else:  # Misra-Gries: the newcomer and every counter lose one; zeros are dropped
            self.counts = {k: c - 1 for k, c in counts.items() if c > 1}

    def _shrink(self) -> None:
        """From exact to Misra-Gries: subtract the (capacity+1)-th largest count from every
        counter and keep the ones left above 0 (the decrements Misra-Gries would have made,
        in one go, so its error bound holds from here on)."""
        ranked = sorted(self.counts.values(), reverse=True)
        cut = ranked[self.capacity]
        self.counts = {k: c - cut for k, c in self.counts.items() if c > cut}

    def top(self, n: int) -> list[tuple[str, int]]:
        """The n largest (key, count), ties by key so the order is stable."""
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


class Bursts:
    """Each distinct_id's most events within `window` consecutive records. Sent in file
    order at `window` records per second, that is its busiest second: the rate the overflow
    limiter sees, which a file grouped by user or by time makes far above the id's mean.
    Only ids above `over` are kept (at most MAX_BURST_IDS of them)."""

    __slots__ = ("_counts", "_ids", "over", "peak", "window")

    def __init__(self, window: int, over: int) -> None:
        self.window, self.over = window, over
        self._ids: deque[str] = deque()
        self._counts: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def add(self, key: str) -> None:
        ids, counts = self._ids, self._counts
        if len(ids) == self.window:  # the oldest record leaves the window
            old = ids.popleft()
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]
        ids.append(key)
        n = counts[key] = counts.get(key, 0) + 1
        peak = self.peak
        if n > self.over and n > peak.get(key, 0) and (key in peak or len(peak) < MAX_BURST_IDS):
            peak[key] = n


@dataclass(slots=True)
class ImportScan:
    """Everything the brief says about the file; counts in `ids`/`names` are exact."""

    path: str
    fmt: Format
    file_bytes: int
    records: int = 0  # valid records
    malformed: int = 0
    malformed_shown: list[tuple[int, str]] = field(default_factory=list)
    record_bytes: int = 0  # sum of the valid records' encoded sizes
    largest_record: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    undated: int = 0  # records without a timestamp (the importer stamps them "now")
    categories: dict[str, int] = field(default_factory=dict)
    ids: HeavyHitters = field(default_factory=lambda: HeavyHitters(EXACT_IDS, CANDIDATES))
    names: HeavyHitters = field(default_factory=lambda: HeavyHitters(EXACT_NAMES, NAME_CANDIDATES))
    passes: int = 1
    bursts: Bursts | None = None  # measured when the rate is known (`burst_window`)
    # Records above each per-event size limit of the API table (bytes -> count): an API
    # rejects them, so the importer dead-letters them.
    oversize: dict[int, int] = field(default_factory=lambda: dict.fromkeys(EVENT_LIMITS, 0))

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"


def detect_format(path: Path, fmt: str | None) -> Format:
    """`--format` if given, else by extension: .csv is CSV, anything else NDJSON."""
    chosen = fmt or ("csv" if path.suffix.lower() == ".csv" else "ndjson")
    if chosen not in ("ndjson", "csv"):
        raise UsageError(f"--format {fmt}: use ndjson or csv")
    return "csv" if chosen == "csv" else "ndjson"


def summarize(record: dict[str, Any]) -> Summary:
    """The record's distinct_id, event name and kind in whichever shape it has: a Segment
    message (`type`), a Customer.io v2 entity (`type` + `action`), or a PostHog/generic
    event (`event`, `distinct_id`). RecordError says what a record lacks."""
    if "type" in record and "action" in record:
        who, name, category = _customerio(record)
    elif "type" in record:
        who, name, category = _segment(record)
    else:
        who, name, category = _generic(record)
    if isinstance(who, bool) or not isinstance(who, str | int) or who == "":
        raise RecordError("the distinct_id (`distinct_id`, `userId`, `identifiers`) is missing")
    if not isinstance(name, str) or not name:
        raise RecordError("`event` must be a non-empty string")
    raw_ts = record.get("timestamp")
    ts = None if raw_ts is None else parse_time(raw_ts, math.nan)
    return Summary(str(who), name, category, ts, len(orjson.dumps(record)))


def _generic(record: dict[str, Any]) -> tuple[object, object, Category]:
    props = record.get("properties")
    who = record.get("distinct_id")
    if who is None and isinstance(props, dict):
        who = props.get("distinct_id")
    name = record.get("event")
    return who, name, _POSTHOG_CATEGORY.get(name, "event") if isinstance(name, str) else "event"


def _segment(record: dict[str, Any]) -> tuple[object, object, Category]:
    kind = record["type"]
    name = record.get("event") if kind == "track" else kind
    category = _SEGMENT_CATEGORY.get(str(kind), "event")
    return record.get("userId") or record.get("anonymousId"), name, category


def _customerio(record: dict[str, Any]) -> tuple[object, object, Category]:
    action = record["action"]
    who = record.get("primary") if action == "merge" else record.get("identifiers")
    key = next(iter(who.values()), None) if isinstance(who, dict) else None
    name = record.get("name") if action == "event" else f"{record['type']} {action}"
    category = _CUSTOMERIO_CATEGORY.get(str(action), "event")
    return key, name, category


def scan(
    path: Path,
    fmt: str | None = None,
    *,
    exact_ids: int = EXACT_IDS,
    candidates: int = CANDIDATES,
    burst_window: int = 0,
    burst_over: int = 0,
) -> ImportScan:
    """Stream `path` once (twice when the ids outgrow exact counting) and count; with a
    `burst_window` (records sent per second) also each id's busiest second above
    `burst_over` events (none can be above it when the window is not larger)."""
    chosen = detect_format(path, fmt)
    with _RecordsOf(path, chosen) as (size, records):
        result = ImportScan(display_path(path), chosen, size)
        result.ids = HeavyHitters(exact_ids, candidates)
        if burst_over < burst_window <= MAX_BURST_WINDOW:
            result.bursts = Bursts(burst_window, burst_over)
        for line, record in records:
            _count(result, line, record)
    if result.records == 0:
        raise ImportScanError(_nothing_usable(result))
    if not (result.ids.exact and result.names.exact):
        _exact_pass(path, result)
    return result


def _count(result: ImportScan, line: int, record: dict[str, Any] | str) -> None:
    try:
        if isinstance(record, str):
            raise RecordError(record)
        summary = summarize(record)
    except RecordError as exc:
        result.malformed += 1
        if len(result.malformed_shown) < MALFORMED_SHOWN:
            result.malformed_shown.append((line, str(exc)))
        return
    result.records += 1
    result.record_bytes += summary.size
    result.largest_record = max(result.largest_record, summary.size)
    if summary.size > EVENT_LIMITS[0]:  # the smallest: most records skip the loop
        for limit in EVENT_LIMITS:
            if summary.size > limit:
                result.oversize[limit] += 1
    result.categories[summary.category] = result.categories.get(summary.category, 0) + 1
    result.ids.add(summary.distinct_id)
    result.names.add(summary.event)
    if result.bursts is not None:
        result.bursts.add(summary.distinct_id)
    ts = summary.timestamp
    if ts is None:
        result.undated += 1
    else:
        result.first_ts = ts if result.first_ts is None else min(result.first_ts, ts)
        result.last_ts = ts if result.last_ts is None else max(result.last_ts, ts)


def _exact_pass(path: Path, result: ImportScan) -> None:
    """Count exactly the candidates the summaries kept: their counts are then the truth."""
    ids = dict.fromkeys(result.ids.counts, 0)
    if result.bursts is not None:  # a bursty id need not be frequent overall
        ids.update(dict.fromkeys(result.bursts.peak, 0))
    names = dict.fromkeys(result.names.counts, 0)
    with _RecordsOf(path, result.fmt) as (_, records):
        for _line, record in records:
            if isinstance(record, str):
                continue
            try:
                summary = summarize(record)
            except RecordError:
                continue
            if summary.distinct_id in ids:
                ids[summary.distinct_id] += 1
            if summary.event in names:
                names[summary.event] += 1
    result.ids.counts, result.names.counts = ids, names
    result.passes = 2


def _nothing_usable(result: ImportScan) -> str:
    if result.malformed == 0:
        return f"{result.path}: the file holds no records: nothing to import"
    first = "; ".join(f"{result.where(n)}: {why}" for n, why in result.malformed_shown[:3])
    return (
        f"{result.path}: none of its {result.malformed:,} record(s) is usable ({first}); "
        f"check that it is {result.fmt.upper()} (or pass --format)"
    )


class _RecordsOf:
    """The file's size and its records, closed on exit; unreadable files and a bad CSV
    header become ImportScanError naming the file."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self._path, self._fmt = path, fmt
        self._stream: IO[Any] | None = None

    def __enter__(self) -> tuple[int, Iterator[tuple[int, dict[str, Any] | str]]]:
        shown = display_path(self._path)
        try:
            binary = open_regular(self._path, "import")
        except UnreadableInput as exc:
            fix = f" ({exc.fix})" if exc.fix else ""
            raise ImportScanError(f"{shown}: {exc.message}{fix}") from None
        size = os.fstat(binary.fileno()).st_size
        if self._fmt == "csv":
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            self._stream = text
            return size, _header_checked(shown, csv_records(text))
        self._stream = binary
        return size, ndjson_records(binary)

    def __exit__(self, *_: object) -> None:
        if self._stream is not None:
            self._stream.close()


def _header_checked(
    shown: str, records: Iterator[tuple[int, dict[str, Any] | str]]
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    try:
        yield from records
    except RecordError as exc:  # a bad header: no record can be read, even to skip
        raise ImportScanError(f"{shown}:1: {exc}") from None
