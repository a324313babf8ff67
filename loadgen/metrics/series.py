"""The per-second series: counters per second plus that second's latency percentiles.

Memory stays flat: only the *open* second has a live histogram (one, reused); when a later
second starts, the open one is closed into three percentiles and its compact encoding (a few
hundred bytes, kept so artifacts merge losslessly). A value for an already-closed second
(impossible with a monotonic clock, but cheap to handle) reopens it from its encoding.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from loadgen.metrics import hdr

PLANNED, STARTED, COMPLETED, DROPPED, STATUS_429, ERRORS = range(6)
COUNTER_FIELDS: tuple[str, ...] = (
    "planned",
    "started",
    "completed",
    "dropped",
    "status_429",
    "errors",
)
PERCENTILE_FIELDS: tuple[tuple[str, float], ...] = (
    ("p50_ms", 50.0),
    ("p95_ms", 95.0),
    ("p99_ms", 99.0),
)


def row_percentiles(h: HdrHistogram) -> tuple[float | None, ...]:
    values = hdr.percentiles_us(h, [p for _, p in PERCENTILE_FIELDS])
    return tuple(None if v is None else v / 1000 for v in values)


class Series:
    __slots__ = ("_encoded", "_open_histogram", "_open_second", "_percentiles", "_rows")

    def __init__(self) -> None:
        self._rows: dict[int, list[int]] = {}
        self._percentiles: dict[int, tuple[float | None, ...]] = {}
        self._encoded: dict[int, str] = {}
        self._open_histogram = hdr.new_histogram()
        self._open_second: int | None = None

    def add(self, sec: int, field: int, n: int) -> None:
        if not n:
            return
        sec = max(sec, 0)
        row = self._rows.get(sec)
        if row is None:
            row = self._rows[sec] = [0] * len(COUNTER_FIELDS)
        row[field] += n

    def histogram_for(self, sec: int) -> HdrHistogram:
        """The live histogram of second `sec`, for latencies of attempts finished in it."""
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
        self._percentiles[sec] = row_percentiles(self._open_histogram)
        self._encoded[sec] = hdr.encode(self._open_histogram)
        hdr.clear(self._open_histogram)

    def started_in(self, sec: int) -> int:
        return self.count_in(sec, STARTED)

    def count_in(self, sec: int, field: int) -> int:
        """The counter `field` (PLANNED, STARTED, ...) of second `sec`, 0 when it has none."""
        row = self._rows.get(sec)
        return row[field] if row else 0

    def __len__(self) -> int:
        """Seconds with any data so far."""
        return len(self._rows.keys() | self._percentiles.keys())

    def rows(self) -> list[dict[str, int | float | None]]:
        """Dense rows from t = 0 to the last second with data (closes the open second)."""
        self.close()
        last = max(self._rows.keys() | self._percentiles.keys(), default=-1)
        out: list[dict[str, int | float | None]] = []
        empty = [0] * len(COUNTER_FIELDS)
        no_percentiles = (None,) * len(PERCENTILE_FIELDS)
        for sec in range(last + 1):
            row: dict[str, int | float | None] = {"t": sec}
            row.update(zip(COUNTER_FIELDS, self._rows.get(sec, empty), strict=True))
            row.update(
                zip(
                    (k for k, _ in PERCENTILE_FIELDS),
                    self._percentiles.get(sec, no_percentiles),
                    strict=True,
                )
            )
            out.append(row)
        return out

    def histograms(self) -> dict[str, str]:
        """Encoded per-second latency histograms keyed by `t` (closes the open second)."""
        self.close()
        return {str(sec): text for sec, text in sorted(self._encoded.items())}
