"""The heads-up for a historical import, from the file itself (`loadgen brief --import`).

The pipeline team's handbook asks, before an import: batching, distinct_id variance (their
`select count(*), distinct_id ... limit 100`), event types (identifies, aliases and merges
called out), peak rate, duration and ramp-up. `import_scan.scan` counts the file once;
this module answers each question as Markdown (like the profile brief) or JSON.

The rate is the one the guard allows the import: the target's workspace limit, or a higher
`--rate` that then needs the pipeline team's approval (`loadgen import` refuses it without
one). Batches hold `--batch-size` records, fewer where the API caps events or bytes per
batch; the duration is the number of batch requests at that rate (the ramp-up adds a little).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from loadgen.apis import RULES, ApiRules
from loadgen.durations import format_duration
from loadgen.errors import UsageError
from loadgen.guard.import_scan import MAX_BURST_IDS, ImportScan, detect_format
from loadgen.guard.import_scan import scan as scan_file
from loadgen.inputs.redact import redact_url
from loadgen.inputs.targets import Target, load_targets, resolve_target
from loadgen.inputs.targets_file import find_targets_file, targets_file_candidates

TOP_IDS = 100  # the handbook's `limit 100`
TOP_NAMES = 50
JSON_VERSION = "loadgen.import-brief/1"


@dataclass(frozen=True, slots=True)
class Batching:
    """How one API would carry the file: batch size, requests, events/s and duration."""

    api: str
    batch_size: int
    why: str  # why it is smaller than asked, or ""
    batch_bytes: int
    requests: int
    events_per_s: float
    duration_s: float
    rejected: int  # records above the API's per-event limit (dead-lettered)
    exempt_from_overflow: bool  # PostHog historical_migration has its own topic


@dataclass(frozen=True, slots=True)
class Hot:
    """A distinct_id the overflow limiter would see above its threshold."""

    distinct_id: str
    events: int
    mean_events_per_s: float  # its share of the file at the rate
    busiest_second: int | None  # events in its busiest second in file order, if measured


@dataclass(frozen=True, slots=True)
class ImportBrief:
    scan: ImportScan
    target: Target
    rate: float  # requests/s
    asked_batch: int
    batching: list[Batching]

    @property
    def needs_approval(self) -> bool:
        """A peak above the workspace limit, or any production target (the guard's rules)."""
        above = self.rate > self.target.limits.workspace_rps_limit * (1 + 1e-9)
        return above or self.target.environment == "production"

    def hot_ids(self) -> tuple[float, list[Hot]]:
        """(events/s, the ids above the overflow threshold at that rate): those ids may
        lose their ordering. The rate is the fastest batching the overflow limiter applies
        to (PostHog's historical batches are exempt). An id is hot when its busiest second,
        sent in file order, is above the threshold (`scan.bursts`), or without that
        measurement when its mean rate is."""
        counted = [b for b in self.batching if not b.exempt_from_overflow] or self.batching
        rate = max(b.events_per_s for b in counted)
        total, limit = self.scan.records, self.target.limits.hot_user_events_per_s
        counts = self.scan.ids.counts
        if self.scan.bursts is not None:
            peaks = self.scan.bursts.peak
            ranked = sorted(peaks.items(), key=lambda kv: (-kv[1], kv[0]))
            return rate, [
                Hot(k, counts.get(k, 0), rate * counts.get(k, 0) / total, n) for k, n in ranked
            ]
        hot = [
            Hot(key, n, rate * n / total, None)
            for key, n in self.scan.ids.top(len(counts))
            if rate * n / total > limit
        ]
        return rate, hot


def brief_text(
    events: Path,
    target_name: str,
    targets: Path | None,
    fmt: str | None,
    batch_size: int,
    rate: float | None,
    as_json: bool,
) -> str:
    """`loadgen brief --import`: the target (looked for beside the file, then in the
    working directory, like a profile's), the file scanned, the brief as text."""
    source = find_targets_file(events, targets)
    searched = targets_file_candidates(events, targets)
    target = resolve_target(target_name, load_targets(source), source, searched)
    check_options(batch_size, rate)  # before streaming what may be gigabytes
    allowed = rate if rate is not None else target.limits.workspace_rps_limit
    scanned = scan_file(
        events,
        detect_format(events, fmt),
        burst_window=math.floor(allowed * batch_size),  # records sent per second, at most
        burst_over=math.floor(target.limits.hot_user_events_per_s),
    )
    brief = build(scanned, target, batch_size, rate)
    if as_json:
        return orjson.dumps(to_json(brief), option=orjson.OPT_INDENT_2).decode()
    return render(brief)


def check_options(batch_size: int, rate: float | None) -> None:
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: use 1 or more records per batch")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise UsageError(f"--rate {rate:g}: use a positive number of requests/s")


def build(scan: ImportScan, target: Target, batch_size: int, rate: float | None) -> ImportBrief:
    """The brief's numbers for `scan` sent to `target` (rate None: the workspace limit)."""
    check_options(batch_size, rate)
    allowed = rate if rate is not None else target.limits.workspace_rps_limit
    apis = list(RULES) if target.api == "any" else [target.api]
    rows = [_batching(RULES[api], scan, batch_size, allowed) for api in apis]
    return ImportBrief(scan, target, allowed, batch_size, rows)


def _batching(rules: ApiRules, scan: ImportScan, asked: int, rate: float) -> Batching:
    limits = rules.payload_limits(rules.batch_version, "batch")
    size, why = asked, ""
    if limits.batch_events is not None and size > limits.batch_events:
        size, why = limits.batch_events, f"{rules.title} caps a batch at {limits.batch_events}"
    mean = max(1, math.ceil(scan.record_bytes / scan.records))
    fits = max(1, limits.batch_bytes // mean)
    if size > fits:
        size, why = fits, f"{limits.batch_bytes:,} B per batch / {mean:,} B per record"
    rejected = scan.oversize.get(limits.event_bytes, 0)
    sent = scan.records - rejected
    requests = math.ceil(sent / size)
    return Batching(
        api=rules.name,
        batch_size=size,
        why=why,
        batch_bytes=limits.batch_bytes,
        requests=requests,
        events_per_s=rate * size,
        duration_s=requests / rate,
        rejected=rejected,
        exempt_from_overflow=rules.name == "posthog",
    )


def render(brief: ImportBrief) -> str:
    sections = [
        _header(brief),
        _volume(brief.scan),
        _batching_text(brief),
        _event_types(brief.scan),
        _variance(brief.scan),
        _overflow(brief),
        _malformed(brief.scan),
    ]
    return "\n\n".join(sections) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _table(head: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _header(brief: ImportBrief) -> str:
    scan, target = brief.scan, brief.target
    limit = target.limits.workspace_rps_limit
    if brief.needs_approval:
        guard = (
            f"**{brief.rate:g} req/s is above the workspace limit of {limit:g} req/s**: "
            f"the import needs a signed approval for it (without one it is refused)"
        )
    else:
        guard = f"within the workspace limit of {limit:g} req/s: no approval needed for the rate"
    rows: list[list[object]] = [
        ["file", f"{scan.path} ({scan.fmt.upper()}, {scan.file_bytes:,} bytes)"],
        [
            "target",
            f"{target.name}: {redact_url(target.url)} ({target.environment}, API {target.api})",
        ],
        ["rate", f"{brief.rate:g} requests/s: {guard}"],
        ["batch size asked", brief.asked_batch],
    ]
    if target.environment == "production":  # as for a load test: GUARD.md's production rule
        rows.append(
            [
                "approval",
                "**needed**: every import into a production target is"
                " approved by the pipeline team",
            ]
        )
    title = f"# Heads-up: historical import of `{_cell(scan.path)}` into `{target.name}`"
    return f"{title}\n\n{_table(['item', 'value'], rows)}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _volume(scan: ImportScan) -> str:
    lines = [
        "## Volume and time span",
        "",
        f"- events: {scan.records:,} valid records ({scan.malformed:,} malformed, not sent)",
        f"- bytes: {scan.file_bytes:,} in the file; {scan.record_bytes:,} as JSON records "
        f"(mean {scan.record_bytes // scan.records:,} B, largest {scan.largest_record:,} B)",
    ]
    if scan.first_ts is not None and scan.last_ts is not None:
        span = format_duration(scan.last_ts - scan.first_ts)
        lines.append(f"- timestamps: {_iso(scan.first_ts)} to {_iso(scan.last_ts)} ({span})")
    else:
        lines.append("- timestamps: none in the file")
    if scan.undated:
        lines.append(f"- without a timestamp: {scan.undated:,} (they are stamped at send time)")
    return "\n".join(lines)


def _batching_text(brief: ImportBrief) -> str:
    rows: list[list[object]] = [
        [
            RULES[b.api].title,
            b.batch_size if not b.why else f"{b.batch_size} ({b.why})",
            f"{b.batch_bytes:,} B",
            f"{b.requests:,}",
            f"{b.events_per_s:,.6g}",
            format_duration(b.duration_s),
            f"{b.rejected:,}",
        ]
        for b in brief.batching
    ]
    head = ["API", "batch size", "batch limit", "requests", "events/s", "expected duration"]
    head.append("records over the per-event limit (dead-lettered)")
    note = (
        f"At {brief.rate:g} requests/s, events/s = requests/s × batch size; the duration "
        "counts the batches at full rate (the ramp-up adds a little). PostHog gets "
        "`/batch/` with `historical_migration`, Customer.io the v2 batch, Segment `/v1/batch`."
    )
    return f"## Batching and expected duration\n\n{note}\n\n{_table(head, rows)}"


def _event_types(scan: ImportScan) -> str:
    total = scan.records
    rows: list[list[object]] = [
        [name, f"{n:,}", f"{n / total:.2%}"] for name, n in scan.names.top(TOP_NAMES)
    ]
    cats = scan.categories
    callout = (
        f"Identifies: {cats.get('identify', 0):,}; aliases (`$create_alias`, Segment "
        f"`alias`): {cats.get('alias', 0):,}; merges (`$merge_dangerously`, Customer.io "
        f"`merge`): {cats.get('merge', 0):,}. These merge persons: each alias or merge is "
        "sent only after the identify it depends on has been accepted."
    )
    more = len(scan.names.counts) > TOP_NAMES
    shown = f"the {TOP_NAMES} most frequent of " if more else ""
    kinds = f"{len(scan.names.counts):,}" if scan.names.exact else "many"
    intro = f"Events per name ({shown}{kinds} names):"
    return f"## Event types\n\n{intro}\n\n{_table(['event', 'events', 'share'], rows)}\n\n{callout}"


def _variance(scan: ImportScan) -> str:
    total = scan.records
    top = scan.ids.top(TOP_IDS)
    rows: list[list[object]] = [
        [rank, key, f"{n:,}", f"{n / total:.3%}"] for rank, (key, n) in enumerate(top, 1)
    ]
    if scan.ids.exact:
        unique = f"{len(scan.ids.counts):,} distinct ids"
    else:
        unique = (
            f"more than {scan.ids.exact_limit:,} distinct ids (counted exactly up to that; "
            f"the counts below are exact, from a second pass over the file)"
        )
    query = (
        "`select count(*), distinct_id from events group by distinct_id order by 1 desc limit 100`"
    )
    return (
        f"## distinct_id variance\n\n{unique}. The top {len(top)} by events (the handbook's "
        f"{query}):\n\n{_table(['rank', 'distinct_id', 'events', 'share'], rows)}"
    )


def _overflow(brief: ImportBrief) -> str:
    rate, hot = brief.hot_ids()
    limit = brief.target.limits.hot_user_events_per_s
    measured = brief.scan.bursts is not None
    how = (
        f"in its busiest second (records sent in file order at up to "
        f"{brief.scan.bursts.window:,} per second)"
        if brief.scan.bursts is not None
        else f"on average (more than {limit / rate:.3%} of the events)"
    )
    head = (
        f"## Hot distinct_ids (ordering)\n\nAt {rate:,.6g} events/s, a distinct_id with more "
        f"than {limit:g} events {how} is above the per-distinct_id overflow threshold of "
        f"{limit:g} events/s, and the pipeline may relax its ordering."
    )
    exempt = [RULES[b.api].title for b in brief.batching if b.exempt_from_overflow]
    note = ""
    if exempt and len(exempt) == len(brief.batching):
        note = " PostHog historical_migration batches never overflow: none loses ordering."
    elif exempt:
        note = (
            f" {', '.join(exempt)} historical_migration batches go to their own topic and "
            "never overflow: the list applies to the other APIs."
        )
    if not hot:
        return f"{head}{note}\n\nNo distinct_id is above it."
    rows: list[list[object]] = []
    for h in hot:
        row: list[object] = [h.distinct_id, f"{h.events:,}", f"{h.mean_events_per_s:,.4g}"]
        rows.append([*row, f"{h.busiest_second:,}"] if measured else row)
    head_row = ["distinct_id", "events", "mean events/s"]
    head_row += ["events in its busiest second"] if measured else []
    table = _table(head_row, rows)
    more = " (the first 10,000)" if len(hot) >= MAX_BURST_IDS else ""
    return f"{head}{note}\n\n{len(hot):,} distinct_id(s) above it{more}:\n\n{table}"


def _malformed(scan: ImportScan) -> str:
    if not scan.malformed:
        return "## Malformed records\n\nNone."
    lines = [
        "## Malformed records",
        "",
        f"{scan.malformed:,} record(s) cannot be sent (the importer skips or dead-letters "
        f"them); the first {len(scan.malformed_shown)}:",
        "",
    ]
    lines += [f"- {scan.where(line)}: {_cell(why)}" for line, why in scan.malformed_shown]
    return "\n".join(lines)


def to_json(brief: ImportBrief) -> dict[str, Any]:
    """The same numbers as the Markdown, for scripts (`--json`)."""
    scan = brief.scan
    rate, hot = brief.hot_ids()
    return {
        "version": JSON_VERSION,
        "file": {"path": scan.path, "format": scan.fmt, "bytes": scan.file_bytes},
        "target": brief.target.name,
        "rate_rps": brief.rate,
        "needs_approval": brief.needs_approval,
        "records": scan.records,
        "malformed": scan.malformed,
        "malformed_shown": [{"line": n, "why": why} for n, why in scan.malformed_shown],
        "record_bytes": scan.record_bytes,
        "largest_record_bytes": scan.largest_record,
        "first_timestamp": scan.first_ts,
        "last_timestamp": scan.last_ts,
        "undated": scan.undated,
        "categories": dict(scan.categories),
        "events": dict(scan.names.top(len(scan.names.counts))),
        "distinct_ids_exact": scan.ids.exact,
        "distinct_ids": len(scan.ids.counts) if scan.ids.exact else None,
        "top_distinct_ids": [{"distinct_id": k, "events": n} for k, n in scan.ids.top(TOP_IDS)],
        "batching": [
            {
                "api": b.api,
                "batch_size": b.batch_size,
                "requests": b.requests,
                "events_per_s": b.events_per_s,
                "duration_s": b.duration_s,
                "dead_lettered": b.rejected,
            }
            for b in brief.batching
        ],
        "overflow_events_per_s": rate,
        "hot_distinct_ids": [
            {"distinct_id": h.distinct_id, "events": h.events, "busiest_second": h.busiest_second}
            for h in hot
        ],
    }
