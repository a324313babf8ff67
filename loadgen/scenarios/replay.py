"""Replay: stream events from an NDJSON or CSV file (a historical import), in file order.

The file is read one record at a time (never loaded), `batch_size` records per request, at
whatever rate the profile plans. A path is relative to the profile's directory.

NDJSON: one JSON object per line (blank lines are ignored).
  - PostHog: each object is a PostHog event, sent as is: `event` and `distinct_id` (or
    `properties.distinct_id`) are required; `properties`, `$set`, `timestamp`, `uuid`, ...
    are kept; a missing `timestamp` / `uuid` is filled in; `api_key`/`token` are dropped.
  - Segment: an object with `type` is a Segment message, sent as is (`writeKey` dropped,
    `timestamp`/`messageId` filled in). Customer.io v2: an object with `type` and `action`
    is a v2 entity, sent as is (`id`/`timestamp` filled in for events).
  - Otherwise (Segment, Customer.io) an object is a generic record, mapped onto the API:
    {event, distinct_id, properties?, timestamp?, uuid?}. `event = "$identify"` is an
    identify (traits from `$set`, linking `properties.$anon_distinct_id`), `"$create_alias"`
    an alias/merge of `distinct_id` with `properties.alias`; any other name is a track.
    `timestamp` is ISO 8601 (no offset = UTC) or unix seconds (milliseconds above 1e11),
    as a number or as text.
CSV: a header row, then one record per row. Columns: `event`, `distinct_id` (required),
  `timestamp`, `uuid` (optional), and `properties.NAME` or `prop_NAME` for each property.
  Cells are strings; an empty cell is left out. Each row is then a generic record as above
  (for PostHog: an event with those fields).

A record (an NDJSON line, a CSV line) is at most `MAX_RECORD_BYTES` (1 MiB; for CSV, 1 Mi
characters): lines are read in bounded chunks, so memory stays constant whatever the file
holds, and a longer one is a malformed record. A replay file must be a regular file (not a
FIFO or a device such as /dev/zero); `check_replay_files` checks it before a run.
A malformed record (bad JSON, not an object, missing `event`/`distinct_id`, wrong number of
CSV fields, bad timestamp, too long) raises `ReplayError` naming the file and line, or with
`on_error = "skip"` is skipped and counted in `skipped`. At the end of the file `build`
raises `ReplayExhausted`, and the engine stops planning the scenario.
A replay is meant for one process: distributed workers would each replay the whole file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, AnyStr

import orjson

from loadgen.errors import LoadgenError, Problem, ScenarioExhausted
from loadgen.inputs.files import UnreadableInput, open_regular
from loadgen.inputs.models import Profile, ScenarioSpec
from loadgen.inputs.tomlsource import KeyLines
from loadgen.scenarios.api_format import (
    SERIAL_STRIDE,
    ApiFormat,
    BuiltRequest,
    Encoder,
    Op,
    RecordError,
    Timeline,
    Wire,
)

Record = tuple[int, dict[str, Any] | str]  # (line, record or what is wrong with it)
_CSV_FIXED = ("event", "distinct_id", "timestamp", "uuid")
_PROPERTY_PREFIXES = ("properties.", "prop_")
MAX_RECORD_BYTES = 1024 * 1024  # a real event is ~1 KiB; a 50 MB line is not an event
_TOO_LONG = f"record longer than {MAX_RECORD_BYTES // 1024:,} KiB (the cap per record)"


class ReplayError(LoadgenError):
    """A replay file is missing, unreadable or has a malformed record (file:line: why)."""


class ReplayExhausted(ScenarioExhausted):
    """The replay file has no more records."""


def bounded_lines(
    stream: IO[AnyStr], limit: int, endings: tuple[AnyStr, ...]
) -> Iterator[AnyStr | None]:
    """Each line of `stream` with its ending, or None for a line longer than `limit`, whose
    rest is read in `limit`-sized chunks and dropped: memory stays constant."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(endings):
            yield line
            continue
        while (chunk := stream.readline(limit)) and not chunk.endswith(endings):
            pass
        yield None


def ndjson_records(stream: IO[bytes]) -> Iterator[Record]:
    for line_no, raw in enumerate(bounded_lines(stream, MAX_RECORD_BYTES, (b"\n",)), 1):
        if raw is None:
            yield line_no, _TOO_LONG
            continue
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield line_no, f"invalid JSON ({exc})"
            continue
        yield line_no, value if isinstance(value, dict) else "not a JSON object"


def _csv_columns(header: list[str]) -> list[tuple[str, str]]:
    """(kind, name) per column: kind is a fixed field or "prop"; unknown columns raise."""
    columns = []
    for name in header:
        if name in _CSV_FIXED:
            columns.append((name, name))
            continue
        prefix = next((p for p in _PROPERTY_PREFIXES if name.startswith(p) and name != p), None)
        if prefix is None:
            raise RecordError(
                f"unknown column {name!r}: use event, distinct_id, timestamp, uuid, "
                "properties.NAME or prop_NAME"
            )
        columns.append(("prop", name[len(prefix) :]))
    missing = [c for c in ("event", "distinct_id") if c not in header]
    if missing:
        raise RecordError(f"the header needs the column(s) {', '.join(missing)}")
    return columns


class _CsvLines:
    """The lines csv.reader reads, bounded; an over-long line becomes an empty line and
    sets `too_long`, so the record it belonged to is reported as malformed."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines = bounded_lines(stream, MAX_RECORD_BYTES, ("\n", "\r"))
        self.too_long = False

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if line is None:
            self.too_long = True
            return "\n"
        return line


def csv_records(stream: IO[str]) -> Iterator[Record]:
    lines = _CsvLines(stream)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        if lines.too_long:
            raise RecordError(f"the header is a {_TOO_LONG}")
        columns = _csv_columns(header)
        for row in reader:
            if lines.too_long:
                lines.too_long = False
                yield reader.line_num, _TOO_LONG
                continue
            if not row:
                continue
            if len(row) != len(columns):
                yield reader.line_num, f"expected {len(columns)} fields, got {len(row)}"
                continue
            record: dict[str, Any] = {}
            props: dict[str, str] = {}
            for (kind, name), cell in zip(columns, row, strict=True):
                if cell == "":
                    continue
                if kind == "prop":
                    props[name] = cell
                else:
                    record[kind] = cell
            record["properties"] = props
            yield reader.line_num, record
    except (csv.Error, UnicodeDecodeError) as exc:
        yield reader.line_num + 1, f"unreadable CSV ({exc})"


def parse_time(value: object, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError("`timestamp` must be ISO 8601 text or unix seconds")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # a CSV cell holding unix seconds
            value = float(value)
    if not isinstance(value, str):
        if not math.isfinite(value):
            raise RecordError("`timestamp` must be a finite number")
        return value / 1000 if value > 1e11 else float(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"`timestamp` is not ISO 8601: {value[:40]!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def generic_op(record: dict[str, Any], ts: float, serial: int) -> Op:
    """A {event, distinct_id, properties, timestamp, uuid} record as an API-neutral event."""
    name = record.get("event")
    if not isinstance(name, str) or not name:
        raise RecordError("`event` must be a non-empty string")
    user = record.get("distinct_id")
    if isinstance(user, bool) or not isinstance(user, str | int) or user == "":
        raise RecordError("`distinct_id` is missing or empty")
    props = record.get("properties") or {}
    if not isinstance(props, dict):
        raise RecordError("`properties` must be an object")
    uuid = record.get("uuid")
    op = Op(
        kind="track",
        user_id=str(user),
        anon_id=None,
        anonymous=False,
        event=name,
        properties=props,
        ts=parse_time(record.get("timestamp"), ts),
        serial=serial,
        message_id=uuid if isinstance(uuid, str) and uuid else None,
    )
    if name == "$identify":
        traits = record.get("$set", props.get("$set", {}))
        anon = props.get("$anon_distinct_id")
        op.kind, op.properties = "identify", dict(traits) if isinstance(traits, dict) else {}
        op.anon_id = anon if isinstance(anon, str) and anon else None
    elif name == "$create_alias":
        alias = props.get("alias")
        if not isinstance(alias, str | int) or isinstance(alias, bool) or alias == "":
            raise RecordError("a $create_alias record needs `properties.alias`")
        op.kind, op.alias, op.properties = "alias", str(alias), {}
    return op


def record_wire(fmt: ApiFormat, record: dict[str, Any], ts: float, serial: int) -> Wire:
    """One file record in the API's shape: as is if it has it, else as a generic record
    (the one mapping `replay` and `loadgen import` share); RecordError if it cannot be."""
    wire = fmt.passthrough(record, ts, serial)
    return wire if wire is not None else fmt.wire(generic_op(record, ts, serial))


class ReplayScenario:
    """One scenario fed from a file; `build(n)` sends its next `batch_size` records."""

    __slots__ = (
        "_batch",
        "_encoder",
        "_fmt",
        "_path",
        "_records",
        "_size",
        "_spec",
        "_stream",
        "_timeline",
        "skipped",
    )

    def __init__(
        self,
        spec: ScenarioSpec,
        fmt: ApiFormat,
        encoder: Encoder,
        timeline: Timeline,
        base_dir: Path,
    ) -> None:
        if spec.replay is None:
            raise ValueError(f"scenario {spec.name!r} has no replay file")
        self._spec, self._fmt, self._encoder, self._timeline = spec, fmt, encoder, timeline
        self._batch = spec.kind == "batch"
        self._size = spec.batch_size if self._batch else 1
        self._path = base_dir / spec.replay.file
        self.skipped = 0
        self._stream, self._records = self._open(spec.replay.format)

    def __repr__(self) -> str:
        return f"ReplayScenario({self._spec.name!r}, file={str(self._path)!r})"

    def _open(self, fmt: str) -> tuple[IO[Any], Iterator[Record]]:
        try:
            binary = open_regular(self._path, "replay")
        except UnreadableInput as exc:
            raise ReplayError(
                f"scenario {self._spec.name!r}: cannot use replay file {self._path}: {exc.message}"
            ) from None
        if fmt == "csv":
            text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
            return text, csv_records(text)
        return binary, ndjson_records(binary)

    def close(self) -> None:
        self._stream.close()

    def build(self, n: int) -> BuiltRequest:
        times = self._timeline.times(n, self._size)
        wires: list[Wire] = []
        while len(wires) < self._size:
            item = self._next()
            if item is None:
                break
            line, record = item
            try:
                if isinstance(record, str):
                    raise RecordError(record)
                wires.append(self._wire(record, times[len(wires)], n * SERIAL_STRIDE + len(wires)))
            except RecordError as exc:
                self._bad(line, str(exc))
        if not wires:
            self.close()
            raise ReplayExhausted(f"{self._path}: no more records")
        return self._request(wires)

    def _next(self) -> Record | None:
        if self._stream.closed:
            return None
        try:
            return next(self._records, None)
        except RecordError as exc:  # a bad CSV header: no record can be read, even to skip
            self.close()
            raise ReplayError(f"{self._path}:1: {exc}") from None

    def _wire(self, record: dict[str, Any], ts: float, serial: int) -> Wire:
        return record_wire(self._fmt, record, ts, serial)

    def _bad(self, line: int, why: str) -> None:
        if self._spec.replay is not None and self._spec.replay.on_error == "skip":
            self.skipped += 1
            return
        self.close()
        raise ReplayError(f"{self._path}:{line}: malformed record: {why}")

    def _request(self, wires: list[Wire]) -> BuiltRequest:
        fmt, spec = self._fmt, self._spec
        if self._batch and fmt.batch_path is not None:
            body = fmt.batch_body(wires, self._timeline.now(), spec.historical)
            return BuiltRequest(
                self._encoder.request("POST", fmt.batch_path, body), None, len(wires)
            )
        wire = wires[0]
        request = self._encoder.request(wire.method, wire.path, fmt.single_body(wire))
        return BuiltRequest(request, wire.key, 1)


def check_replay_files(profile: Profile) -> list[Problem]:
    """Each replay file of `profile` exists, is a regular file and can be read: a problem
    at the line of its `replay` key otherwise (what `run --dry-run` checks)."""
    problems: list[Problem] = []
    lines = profile.lines or KeyLines()  # as the profile reader found them
    for index, spec in enumerate(profile.scenarios):
        if spec.replay is None:
            continue
        try:
            open_regular(profile.path.parent / spec.replay.file, "replay").close()
        except UnreadableInput as exc:
            key = f"scenarios[{index}].replay.file"
            problems.append(
                Problem(
                    key,
                    exc.message,
                    str(profile.path),
                    lines.line_of(key),
                    spec.replay.file,
                    fix=f"{exc.fix or 'check its permissions'} (relative paths start at the "
                    "profile's folder)",
                )
            )
    return problems
