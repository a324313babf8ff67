"""The per-second series: counters per second plus that second's latency and service-time
percentiles, for the whole run and per scenario.

Memory stays flat: only the *open* second has a live histogram of each kind (one, reused);
when a later second starts, the open one is closed into three percentiles and its compact
encoding (a few hundred bytes, kept so artifacts merge losslessly). A value for an
already-closed second (impossible with a monotonic clock, but cheap to handle) reopens it
from its encoding. `in_flight` is not stored: it is the running sum of started minus
finished, derived when rows are read (so a merge recomputes it exactly).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.metrics import hdr
from loadgen.metrics.outcomes import ERROR_BASE, RETRY_FLAG

PLANNED, STARTED, COMPLETED, DROPPED, STATUS_429, ERRORS = range(6)
S2XX, S3XX, S4XX, S5XX, SOTHER = range(6, 11)
COUNTER_FIELDS: tuple[str, ...] = (
    "planned",
    "started",
    "completed",
    "dropped",
    "status_429",
    "errors",
)
# The status split of a row: the counter index each class is read from ("429" and
# "transport" are the status_429 and errors counters themselves, not stored twice).
STATUS_SPLIT: tuple[tuple[str, int], ...] = (
    ("2xx", S2XX),
    ("3xx", S3XX),
    ("4xx", S4XX),
    ("429", STATUS_429),
    ("5xx", S5XX),
    ("other", SOTHER),
    ("transport", ERRORS),
)
STORED_COUNTERS = 11
_CLASS_FIELD = {2: S2XX, 3: S3XX, 4: S4XX, 5: S5XX}
PERCENTILE_FIELDS: tuple[tuple[str, float], ...] = (
    ("p50_ms", 50.0),
    ("p95_ms", 95.0),
    ("p99_ms", 99.0),
)
SERVICE_FIELDS: tuple[str, ...] = ("service_p50_ms", "service_p95_ms", "service_p99_ms")
NO_PERCENTILES: tuple[float | None, ...] = (None,) * len(PERCENTILE_FIELDS)
Row = dict[str, Any]


def row_percentiles(h: HdrHistogram) -> tuple[float | None, ...]:
    values = hdr.percentiles_us(h, [p for _, p in PERCENTILE_FIELDS])
    return tuple(None if v is None else v / 1000 for v in values)


def split_counts(batch: Mapping[int, int]) -> dict[int, int]:
    """{counter index: count} of one batch of outcome codes (few distinct codes per batch):
    completed, errors, status_429 and the status class of each response."""
    out = dict.fromkeys((COMPLETED, ERRORS), 0)
    for code, count in batch.items():
        base = code & ~RETRY_FLAG
        if base >= ERROR_BASE:
            out[ERRORS] += count
            continue
        out[COMPLETED] += count
        field = STATUS_429 if base == 429 else _CLASS_FIELD.get(base // 100, SOTHER)
        out[field] = out.get(field, 0) + count
    return out


def second_time(epoch: datetime, sec: int) -> str:
    """ISO 8601 UTC (with Z, milliseconds) of the start of second `sec` after `epoch`."""
    moment = (epoch + timedelta(seconds=sec)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SecondHistograms:
    """One histogram kind (latency or service time) per second, only the open one live."""

    __slots__ = ("_encoded", "_open_histogram", "_open_second", "percentiles")

    def __init__(self) -> None:
        self.percentiles: dict[int, tuple[float | None, ...]] = {}
        self._encoded: dict[int, str] = {}
        self._open_histogram = hdr.new_histogram()
        self._open_second: int | None = None

    def histogram_for(self, sec: int) -> HdrHistogram:
        """The live histogram of second `sec`, for attempts finished in it."""
        sec = max(sec, 0)
        if sec != self._open_second:
            self.close()
            self._open_second = sec
            previous = self._encoded.pop(sec, None)
            if previous is not None:
                hdr.add_into(self._open_histogram, hdr.decode(previous))
        return self._open_histogram

    def close(self) -> None:
        """Close the open second: keep its percentiles and encoding, reuse the histogram."""
        sec = self._open_second
        if sec is None:
            return
        self._open_second = None
        if not self._open_histogram.total_count:
            return
        self.percentiles[sec] = row_percentiles(self._open_histogram)
        self._encoded[sec] = hdr.encode(self._open_histogram)
        hdr.clear(self._open_histogram)

    def of(self, sec: int) -> tuple[float | None, ...]:
        if sec == self._open_second:
            self.close()
        return self.percentiles.get(sec, NO_PERCENTILES)

    def encoded(self) -> dict[str, str]:
        """Encoded per-second histograms keyed by `t` (closes the open second)."""
        self.close()
        return {str(sec): text for sec, text in sorted(self._encoded.items())}


def make_row(
    sec: int,
    counts: list[int],
    in_flight_before: int,
    latency: tuple[float | None, ...],
    service: tuple[float | None, ...],
    time: str | None,
) -> Row:
    """One series row (the artifact's shape) from the stored counters of second `sec`."""
    row: Row = {"t": sec}
    if time is not None:
        row["time"] = time
    row.update(zip(COUNTER_FIELDS, counts, strict=False))
    row["status"] = {name: counts[i] for name, i in STATUS_SPLIT}
    row["in_flight"] = max(
        in_flight_before + counts[STARTED] - counts[COMPLETED] - counts[ERRORS], 0
    )
    row.update(zip((k for k, _ in PERCENTILE_FIELDS), latency, strict=True))
    row.update(zip(SERVICE_FIELDS, service, strict=True))
    return row


def stored_counts(row: Mapping[str, Any]) -> list[int]:
    """The stored counters of an artifact row (inverse of `make_row`; older rows without a
    status split count their responses as "other")."""
    counts = [int(row[f]) for f in COUNTER_FIELDS] + [0] * (STORED_COUNTERS - len(COUNTER_FIELDS))
    status = row.get("status")
    if status is None:
        counts[SOTHER] = counts[COMPLETED] - counts[STATUS_429]
        return counts
    for name, i in STATUS_SPLIT:
        if i >= len(COUNTER_FIELDS):
            counts[i] = int(status.get(name, 0))
    return counts


class Series:
    """Counters per second and the per-second latency and service-time histograms."""

    __slots__ = ("_rows", "latency", "service")

    def __init__(self) -> None:
        self._rows: dict[int, list[int]] = {}
        self.latency = SecondHistograms()
        self.service = SecondHistograms()

    def add(self, sec: int, field: int, n: int) -> None:
        if not n:
            return
        sec = max(sec, 0)
        row = self._rows.get(sec)
        if row is None:
            row = self._rows[sec] = [0] * STORED_COUNTERS
        row[field] += n

    def close(self) -> None:
        self.latency.close()
        self.service.close()

    def started_in(self, sec: int) -> int:
        return self.count_in(sec, STARTED)

    def count_in(self, sec: int, field: int) -> int:
        """The counter `field` (PLANNED, STARTED, ...) of second `sec`, 0 when it has none."""
        row = self._rows.get(sec)
        return row[field] if row else 0

    def _seconds(self) -> set[int]:
        return self._rows.keys() | self.latency.percentiles.keys() | self.service.percentiles.keys()

    def __len__(self) -> int:
        """Seconds with any data so far."""
        return len(self._seconds())

    def row(self, sec: int, in_flight_before: int, epoch: datetime | None) -> Row:
        """The row of second `sec` as it stands (closes its histograms if open)."""
        return make_row(
            sec,
            self._rows.get(sec, [0] * STORED_COUNTERS),
            in_flight_before,
            self.latency.of(sec),
            self.service.of(sec),
            None if epoch is None else second_time(epoch, sec),
        )

    def rows(self, epoch: datetime | None = None, until: int = -1) -> list[Row]:
        """Dense rows from t = 0 to the last second with data, or to `until` if later
        (closes the open seconds)."""
        self.close()
        last = max(self._seconds(), default=-1)
        out: list[Row] = []
        in_flight = 0
        for sec in range(max(last, until) + 1):
            row = self.row(sec, in_flight, epoch)
            in_flight = row["in_flight"]
            out.append(row)
        return out

    def histograms(self) -> dict[str, str]:
        """Encoded per-second latency histograms keyed by `t` (closes the open second)."""
        return self.latency.encoded()


class SeriesSet:
    """The run's series ("all") and one per scenario, filled together."""

    __slots__ = ("names", "run", "scenarios")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.run = Series()
        self.scenarios = [Series() for _ in names]

    def commit(self, sec: int, field: int, run_n: int, per_scenario: list[int]) -> None:
        """Add one second's count of `field` to the run and to each scenario, and zero
        `per_scenario` for the next second."""
        self.run.add(sec, field, run_n)
        for series, n in zip(self.scenarios, per_scenario, strict=True):
            series.add(sec, field, n)
        per_scenario[:] = [0] * len(per_scenario)

    def add_finished(self, scenario: int, sec: int, counts: Mapping[int, int]) -> None:
        own = self.scenarios[scenario]
        for field, n in counts.items():
            self.run.add(sec, field, n)
            own.add(sec, field, n)

    def named(self) -> list[tuple[str, Series]]:
        return [("all", self.run), *zip(self.names, self.scenarios, strict=True)]

    def live_rows(self, sec: int, in_flight_before: list[int], epoch: datetime) -> list[Row]:
        """The rows of second `sec` so far, the run's then each scenario's, each with its
        `scenario` ("all" for the run); `in_flight_before` (in flight at the end of the
        previous second, same order) is updated in place."""
        out: list[Row] = []
        for i, (name, series) in enumerate(self.named()):
            row = series.row(sec, in_flight_before[i], epoch)
            in_flight_before[i] = row["in_flight"]
            out.append({"scenario": name, **row})
        return out

    def export(self, epoch: datetime) -> dict[str, Any]:
        """The artifact's series blocks (closes the open seconds): `series`,
        `series_histograms`, `series_service_histograms`, `scenario_series` (as long as the
        run's) and `scenario_series_histograms`."""
        rows = self.run.rows(epoch)
        return {
            "series": rows,
            "series_histograms": self.run.latency.encoded(),
            "series_service_histograms": self.run.service.encoded(),
            "scenario_series": {
                name: s.rows(epoch, until=len(rows) - 1)
                for name, s in zip(self.names, self.scenarios, strict=True)
            },
            "scenario_series_histograms": {
                name: {"latency": s.latency.encoded(), "service": s.service.encoded()}
                for name, s in zip(self.names, self.scenarios, strict=True)
            },
        }
