"""RunMetrics: what the engine records on its hot path, and what a run measured.

Costs on the hot path (measured by scripts/bench_metrics.py): a `record_*` call appends to an
`array('q')` buffer or bumps a counter for the current second (~0.1-0.5 µs). Every
`flush_at` finished attempts (and on `flush()`/`snapshot()`), buffers are counted with
`Counter` and added to the HDR histograms in bulk: one Python step per *distinct* value,
instead of ~1 µs per value for `record_value`.

What is recorded where:
- latency (from the planned start) and service time (from the send) of every finished
  attempt, response or transport error, first attempt or retry, per scenario; the per-second
  series percentiles use the same latencies, bucketed by the second the attempt finished;
- the latency of the transport errors alone, per scenario, so a report can tell the time
  to fail from the time to answer (responses = all minus errors);
- status and error counts split by first attempt / retry (`Outcomes`);
- scheduler lag per started arrival;
- the per-second series of the run and of each scenario (metrics/series.py): the hot path
  only adds a list-index increment per scenario to the per-second counters it already
  kept; the flush records each batch into the run's and the scenario's per-second
  histograms too (one more `counts[index] += n` per distinct value and histogram) and
  splits the batch's few distinct outcome codes into status classes.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from hdrh.histogram import HdrHistogram

from loadgen.metrics import hdr
from loadgen.metrics.measured import LiveSnapshot, Measurements, ScenarioMeasurements
from loadgen.metrics.outcomes import (
    ERROR_BASE,
    KIND_CODES,
    OTHER_ERROR_CODE,
    RETRY_FLAG,
    Outcomes,
)
from loadgen.metrics.series import DROPPED, ERRORS, PLANNED, STARTED, Row, SeriesSet, split_counts

__all__ = ["FLUSH_AT", "LiveSnapshot", "Measurements", "RunMetrics", "ScenarioMeasurements"]

FLUSH_AT = 1024  # finished attempts per bulk flush: ~0.5 ms pause; see scripts/bench_metrics.py


class RunMetrics:
    """Recorder for one run. Not thread-safe: one event loop calls it."""

    __slots__ = (
        "_clamped_count",
        "_dropped_by_scenario",
        "_dropped_in_second",
        "_dropped_now",
        "_dropped_second",
        "_epoch",
        "_error_latency_hists",
        "_finished_buffers",
        "_finished_second",
        "_finished_unflushed",
        "_flush_at",
        "_lag_buffer",
        "_lag_hist",
        "_latency_hists",
        "_latency_sum_us",
        "_merged_latency",
        "_outcomes",
        "_planned_in_second",
        "_planned_now",
        "_planned_second",
        "_planned_total",
        "_retry_after_count",
        "_retry_after_max_s",
        "_scenario_names",
        "_sent_by_scenario",
        "_series",
        "_series_set",
        "_service_hists",
        "_service_sum_us",
        "_started_in_second",
        "_started_now",
        "_started_second",
    )

    def __init__(self, scenario_names: Sequence[str], *, flush_at: int = FLUSH_AT) -> None:
        names = list(scenario_names)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"scenario names must be unique and non-empty, got {names!r}")
        if flush_at < 1:
            raise ValueError(f"flush_at must be at least 1, got {flush_at}")
        n = len(names)
        self._scenario_names = names
        self._flush_at = flush_at
        self._series_set = SeriesSet(names)
        self._series = self._series_set.run
        self._epoch = datetime.now(UTC)  # wall time of offset 0, for the rows' `time`
        # hot-path state: per event kind, the current second and the count in it so far,
        # added to the series when a later second starts (the finished attempts instead
        # count what waits in the buffers, flushed at `flush_at` or a new second)
        self._planned_second = self._planned_in_second = self._planned_total = 0
        self._started_second = self._started_in_second = 0
        self._dropped_second = self._dropped_in_second = 0
        self._finished_second = self._finished_unflushed = 0
        self._sent_by_scenario = [0] * n
        self._dropped_by_scenario = [0] * n
        # per scenario, the counts in the current second of each kind (added to the
        # scenario's series with the run's count, when a later second starts)
        self._planned_now = [0] * n
        self._started_now = [0] * n
        self._dropped_now = [0] * n
        # per scenario, finished attempts as (latency_us, service_us, outcome code) triples
        self._finished_buffers = [array("q") for _ in range(n)]
        self._lag_buffer = array("q")
        self._outcomes = [Outcomes() for _ in range(n)]
        self._latency_hists = [hdr.new_histogram() for _ in range(n)]
        self._latency_sum_us, self._service_sum_us = [0] * n, [0] * n
        self._service_hists = [hdr.new_histogram() for _ in range(n)]
        self._error_latency_hists = [hdr.new_histogram() for _ in range(n)]
        self._lag_hist = hdr.new_histogram()
        self._merged_latency = hdr.new_histogram()  # reused by latency_all()
        self._retry_after_count = 0
        self._retry_after_max_s: float | None = None
        self._clamped_count = 0

    @property
    def scenario_names(self) -> list[str]:
        return list(self._scenario_names)

    @property
    def epoch(self) -> datetime:
        return self._epoch

    def mark_start(self, at: datetime | None = None) -> None:
        """Offset 0 is now (or `at`): the wall time the series rows' `time` counts from."""
        self._epoch = at or datetime.now(UTC)

    # -- hot path -------------------------------------------------------------------------

    def record_planned(self, t_s: float, scenario: int = -1) -> None:
        """An arrival came due at offset `t_s` (counted even if it is then dropped); with
        its scenario, also in that scenario's series."""
        sec = int(t_s)
        if sec != self._planned_second:
            self._commit_planned(sec)
        self._planned_in_second += 1
        if scenario >= 0:
            self._planned_now[scenario] += 1

    def record_dropped(self, scenario: int, t_s: float) -> None:
        """An arrival found no room under max_in_flight."""
        self._dropped_by_scenario[scenario] += 1
        sec = int(t_s)
        if sec != self._dropped_second:
            self._commit_dropped(sec)
        self._dropped_in_second += 1
        self._dropped_now[scenario] += 1

    def record_started(self, scenario: int, t_s: float) -> None:
        """An attempt (first or retry) was sent at `t_s`."""
        self._sent_by_scenario[scenario] += 1
        sec = int(t_s)
        if sec != self._started_second:
            self._commit_started(sec)
        self._started_in_second += 1
        self._started_now[scenario] += 1

    def record_response(
        self,
        scenario: int,
        t_s: float,
        latency_us: int,
        service_us: int,
        status: int,
        retry_after_s: float | None,
        attempt: int = 0,
    ) -> None:
        """An attempt got an HTTP response at `t_s` (any status)."""
        sec = int(t_s)
        if sec != self._finished_second:
            self._flush_finished(sec)
        self._finished_buffers[scenario].extend(
            (latency_us, service_us, status | RETRY_FLAG if attempt else status)
        )
        if retry_after_s is not None:
            self._note_retry_after(retry_after_s)
        self._finished_unflushed += 1
        if self._finished_unflushed >= self._flush_at:
            self._flush_finished(sec)

    def record_error(
        self,
        scenario: int,
        t_s: float,
        latency_us: int,
        service_us: int,
        kind: str,
        attempt: int = 0,
    ) -> None:
        """An attempt ended without a response (`kind` from ERROR_KINDS; unknown -> other)."""
        sec = int(t_s)
        if sec != self._finished_second:
            self._flush_finished(sec)
        code = KIND_CODES.get(kind, OTHER_ERROR_CODE)
        self._finished_buffers[scenario].extend(
            (latency_us, service_us, code | RETRY_FLAG if attempt else code)
        )
        self._finished_unflushed += 1
        if self._finished_unflushed >= self._flush_at:
            self._flush_finished(sec)

    def record_lag(self, lag_us: int) -> None:
        """How late the scheduler started an arrival (0 when on time)."""
        lag = self._lag_buffer
        lag.append(lag_us)
        if len(lag) >= self._flush_at:
            self._flush_lag()

    # -- bulk side --------------------------------------------------------------------------

    def _note_retry_after(self, seconds: float) -> None:
        self._retry_after_count += 1
        if self._retry_after_max_s is None or seconds > self._retry_after_max_s:
            self._retry_after_max_s = seconds

    def _commit_planned(self, sec: int) -> None:
        self._series_set.commit(
            self._planned_second, PLANNED, self._planned_in_second, self._planned_now
        )
        self._planned_total += self._planned_in_second
        self._planned_second, self._planned_in_second = sec, 0

    def _commit_dropped(self, sec: int) -> None:
        self._series_set.commit(
            self._dropped_second, DROPPED, self._dropped_in_second, self._dropped_now
        )
        self._dropped_second, self._dropped_in_second = sec, 0

    def _commit_started(self, sec: int) -> None:
        self._series_set.commit(
            self._started_second, STARTED, self._started_in_second, self._started_now
        )
        self._started_second, self._started_in_second = sec, 0

    def _flush_finished(self, next_sec: int) -> None:
        """Move the buffered attempts (all finished in `_finished_second`) into histograms."""
        sec, run, series_set = self._finished_second, self._series, self._series_set
        for i, buf in enumerate(self._finished_buffers):
            if not buf:
                continue
            own = series_set.scenarios[i]
            latencies, services = buf[0::3], buf[1::3]
            # exact sums for a Prometheus summary's _sum (C-speed over the array slices)
            self._latency_sum_us[i] += sum(latencies)
            self._service_sum_us[i] += sum(services)
            self._clamped_count += hdr.record_counts(
                Counter(latencies),
                self._latency_hists[i],
                run.latency.histogram_for(sec),
                own.latency.histogram_for(sec),
            )
            self._clamped_count += hdr.record_counts(
                Counter(services),
                self._service_hists[i],
                run.service.histogram_for(sec),
                own.service.histogram_for(sec),
            )
            counts = split_counts(self._outcomes[i].add(buf[2::3]))
            if counts[ERRORS]:
                self._record_error_latency(i, buf)
            series_set.add_finished(i, sec, counts)
            del buf[:]
        self._finished_second, self._finished_unflushed = next_sec, 0

    def _record_error_latency(self, scenario: int, buf: array[int]) -> None:
        """The latencies of the transport errors in `buf` (a Python step per error only,
        and only in batches that have any)."""
        failed = Counter(
            latency
            for latency, code in zip(buf[0::3], buf[2::3], strict=True)
            if code & ~RETRY_FLAG >= ERROR_BASE
        )
        hdr.record_counts(
            failed, self._error_latency_hists[scenario]
        )  # clamped already counted above

    def _flush_lag(self) -> None:
        if self._lag_buffer:
            self._clamped_count += hdr.record_counts(Counter(self._lag_buffer), self._lag_hist)
            del self._lag_buffer[:]

    def flush(self) -> None:
        """Drain every buffer into the histograms and series (keeps the current seconds)."""
        self._commit_planned(self._planned_second)
        self._commit_dropped(self._dropped_second)
        self._commit_started(self._started_second)
        self._flush_finished(self._finished_second)
        self._flush_lag()

    # -- reading ----------------------------------------------------------------------------

    def buffered(self) -> int:
        """Values waiting in buffers (bounded by `flush_at` per buffer kind)."""
        return sum(map(len, self._finished_buffers)) // 3 + len(self._lag_buffer)

    def series_seconds(self) -> int:
        return len(self._series)

    def lag_percentile_ms(self, percentile: float) -> float:
        """Scheduler lag at `percentile` (0 when nothing started yet)."""
        self._flush_lag()
        return hdr.percentile_ms(self._lag_hist, percentile) or 0.0

    def latency_all(self) -> HdrHistogram:
        """All scenarios' latency in one histogram (a reused scratch copy: read it at once)."""
        if len(self._latency_hists) == 1:
            return self._latency_hists[0]
        hdr.clear(self._merged_latency)
        for h in self._latency_hists:
            hdr.add_into(self._merged_latency, h)
        return self._merged_latency

    def snapshot(self, now_s: float | None = None) -> LiveSnapshot:
        """Counts so far (flushes first). The achieved rate is the sends of the last full
        second, before `now_s` when given, else before the latest second seen; the planned
        rate the arrivals due in that same second (by their planned offsets)."""
        self.flush()
        total = Outcomes()
        for outcomes in self._outcomes:
            total.merge(outcomes)
        tally = total.tally()
        completed, errors = tally.completed, tally.errors
        started = sum(self._sent_by_scenario)
        current = (
            int(now_s)
            if now_s is not None
            else max(self._planned_second, self._started_second, self._finished_second)
        )
        p50, p95, p99 = hdr.percentiles_us(self.latency_all(), (50.0, 95.0, 99.0))
        return LiveSnapshot(
            planned=self._planned_total,
            started=started,
            completed=completed,
            dropped=sum(self._dropped_by_scenario),
            in_flight=started - completed - errors,
            retries=total.retries(),
            status=tally.status,
            errors=tally.errors_by_kind,
            transport_errors=errors,
            p50_ms=None if p50 is None else p50 / 1000,
            p95_ms=None if p95 is None else p95 / 1000,
            p99_ms=None if p99 is None else p99 / 1000,
            achieved_rps=float(self._series.started_in(current - 1)) if current >= 1 else 0.0,
            planned_rps=float(self._series.count_in(current - 1, PLANNED)) if current >= 1 else 0.0,
        )

    def measurements(self) -> Measurements:
        """Flush, close the open second, and hand over what the run measured (the live
        histograms, not copies: read them before recording more)."""
        self.flush()
        scenarios = self.scenario_measurements()
        return Measurements(
            planned=self._planned_total,
            scenarios=scenarios,
            lag=self._lag_hist,
            retry_after_count=self._retry_after_count,
            retry_after_max_s=self._retry_after_max_s,
            clamped=self._clamped_count,
            **self._series_set.export(self._epoch),
        )

    def scenario_measurements(self) -> tuple[ScenarioMeasurements, ...]:
        """Each scenario's counts and live histograms as they stand (flush first)."""
        return tuple(
            ScenarioMeasurements(
                name,
                self._sent_by_scenario[i],
                self._dropped_by_scenario[i],
                self._outcomes[i],
                self._latency_hists[i],
                self._service_hists[i],
                self._error_latency_hists[i],
                self._latency_sum_us[i],
                self._service_sum_us[i],
            )
            for i, name in enumerate(self._scenario_names)
        )

    def live_rows(self, sec: int, in_flight_before: list[int]) -> list[Row]:
        """Second `sec`'s rows so far (see SeriesSet.live_rows; flush first)."""
        return self._series_set.live_rows(sec, in_flight_before, self._epoch)
