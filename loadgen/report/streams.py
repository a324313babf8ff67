"""The per-second series file of `loadgen run --out-series FILE`: NDJSON (CSV when FILE
ends in .csv), one row per second for the whole run (`scenario` "all") and one per scenario.

The file is appended to while the run goes on (each line flushed, for `tail -F` and
dashboards) and made equal to the artifact's series at the end: rows already written are
kept when they match (the usual case), and the rest is appended; if any differ (a second
that changed after it was written, e.g. arrivals recorded very late under overload), the
whole file is replaced atomically from the artifact. Either way it is complete and valid
however the run ends, Ctrl-C included.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from loadgen.errors import UsageError
from loadgen.metrics.series import COUNTER_FIELDS

Row = Mapping[str, Any]
# the status split as status_<class> columns; its "429" is the status_429 column already
CSV_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "other", "transport")
CSV_COLUMNS: tuple[str, ...] = (
    "time",
    "t",
    "scenario",
    *COUNTER_FIELDS,  # the series rows' own counters, in their order
    *(f"status_{name}" for name in CSV_STATUS_CLASSES),
    "in_flight",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "service_p50_ms",
    "service_p95_ms",
    "service_p99_ms",
)


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def ndjson_line(row: Row) -> bytes:
    return orjson.dumps(row) + b"\n"


def csv_line(row: Row) -> bytes:
    """One CSV record of `row` (status classes flattened to status_<class>; null = empty)."""
    status = row.get("status") or {}
    flat = {**row, **{f"status_{name}": status.get(name) for name in CSV_STATUS_CLASSES}}
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        "" if flat.get(column) is None else flat[column] for column in CSV_COLUMNS
    )
    return out.getvalue().encode()


def csv_header() -> bytes:
    return (",".join(CSV_COLUMNS) + "\n").encode()


def artifact_rows(doc: Mapping[str, Any]) -> Iterator[Row]:
    """The artifact's series as file rows: per second, the run's ("all") then each
    scenario's (older artifacts without `scenario_series`: the run's only)."""
    per_scenario: Mapping[str, Sequence[Row]] = doc.get("scenario_series") or {}
    for i, row in enumerate(doc.get("series") or []):
        yield {"scenario": "all", **row}
        for name, rows in per_scenario.items():
            if i < len(rows):
                yield {"scenario": name, **rows[i]}


class SeriesFile:
    """The open series file: `append` rows while the run goes on, `finish` from the
    artifact. Opened (truncated) before the first request, so a bad path is a usage error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._csv = is_csv(path)
        try:
            self._handle: IO[bytes] | None = path.open("wb")
        except OSError as exc:
            raise UsageError(
                f"usage: --out-series {path}: cannot write it ({exc.strerror or exc}); "
                "choose a path in a writable, existing directory"
            ) from exc
        if self._csv:
            self._write([csv_header()])

    def _line(self, row: Row) -> bytes:
        return csv_line(row) if self._csv else ndjson_line(row)

    def _write(self, lines: Iterable[bytes]) -> None:
        if self._handle is None:
            return
        self._handle.write(b"".join(lines))
        self._handle.flush()

    def append(self, rows: Iterable[Row]) -> None:
        self._write(self._line(row) for row in rows)

    def finish(self, doc: Mapping[str, Any]) -> None:
        """Make the file the artifact's series exactly (see the module docstring)."""
        self.close()
        expected = ([csv_header()] if self._csv else []) + [
            self._line(row) for row in artifact_rows(doc)
        ]
        written = self.path.read_bytes().splitlines(keepends=True) if self.path.exists() else []
        if written == expected[: len(written)]:
            with self.path.open("ab") as handle:
                handle.write(b"".join(expected[len(written) :]))
            return
        partial = self.path.with_name(f".{self.path.name}.partial")
        partial.write_bytes(b"".join(expected))
        os.replace(partial, self.path)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
