"""The run's live streams: the per-second series file (`--out-series`) and the Prometheus
endpoint (`--metrics-port`), fed from the run's metrics while it goes on.

Both are opened by the CLI before the first request (a bad path or a port in use is a usage
error, exit 2), fed by one task on the run's event loop every TICK_S, finished from the
artifact when it is written (however the run ended), and closed by the CLI: the endpoint
keeps serving the final values LINGER_S after the run so a scraper gets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadgen.metrics import RunMetrics, hdr
from loadgen.report.streams import SeriesFile
from loadgen.run.cpuwatch import process_cpu_s

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

    from loadgen.report.prometheus import Exporter, MetricsView, Quantiles

TICK_S = 0.5
# A second is written once the clock is this far past its end: arrivals are recorded by
# their planned second, and one started up to this late still lands in its row.
SETTLE_S = 1.0
LINGER_S = 2.0


@dataclass(frozen=True, slots=True)
class StreamOptions:
    series_path: Path | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_allow_remote: bool = False

    @property
    def wanted(self) -> bool:
        return self.series_path is not None or self.metrics_port is not None


class RunStreams:
    """The open streams of one run (see the module docstring)."""

    def __init__(self, series: SeriesFile | None, exporter: Exporter | None) -> None:
        self.series, self.exporter = series, exporter
        self._next_second = 0
        self._in_flight: list[int] = []
        self._cpu = (process_cpu_s(), time.perf_counter(), 0.0)
        self._service_scratch = hdr.new_histogram()

    def tick(self, metrics: RunMetrics) -> None:
        """Write the seconds that have settled, publish the current values."""
        metrics.flush()
        if self.series is not None:
            elapsed = (datetime.now(UTC) - metrics.epoch).total_seconds()
            if not self._in_flight:
                self._in_flight = [0] * (len(metrics.scenario_names) + 1)
            while self._next_second + 1 + SETTLE_S <= elapsed:
                self.series.append(metrics.live_rows(self._next_second, self._in_flight))
                self._next_second += 1
        if self.exporter is not None:
            self.exporter.publish(self._view(metrics))

    def _cpu_percent(self) -> float:
        """loadgen's CPU since the last reading at least a second ago."""
        cpu, wall, last = self._cpu
        now_cpu, now_wall = process_cpu_s(), time.perf_counter()
        if now_wall - wall >= 1.0:
            last = 100.0 * (now_cpu - cpu) / (now_wall - wall)
            self._cpu = (now_cpu, now_wall, last)
        return last

    def _view(self, metrics: RunMetrics) -> MetricsView:
        from loadgen.report.prometheus import MetricsView, ScenarioView

        elapsed = (datetime.now(UTC) - metrics.epoch).total_seconds()
        snap = metrics.snapshot(now_s=elapsed)
        scenarios: dict[str, ScenarioView] = {}
        measured = metrics.scenario_measurements()
        for s in measured:
            tally = s.outcomes.tally()
            scenarios[s.name] = ScenarioView(
                sent=s.sent,
                dropped=s.dropped,
                in_flight=max(s.sent - tally.completed - tally.errors, 0),
                by_class=dict(tally.status),
                errors_by_kind=dict(tally.errors_by_kind),
                latency=_quantiles(s.latency, s.latency_sum_us),
                service=_quantiles(s.service, s.service_sum_us),
            )
        service_all = self._service_scratch  # reused: no new 180 kB histogram per tick
        hdr.clear(service_all)
        for s in measured:
            hdr.add_into(service_all, s.service)
        return MetricsView(
            planned=snap.planned,
            in_flight=snap.in_flight,
            planned_rps=snap.planned_rps,
            achieved_rps=snap.achieved_rps,
            cpu_percent=self._cpu_percent(),
            scenarios=scenarios,
            latency=_quantiles(metrics.latency_all(), sum(s.latency_sum_us for s in measured)),
            service=_quantiles(service_all, sum(s.service_sum_us for s in measured)),
        )

    def finish(self, doc: Mapping[str, Any], metrics: RunMetrics) -> None:
        """The run is over and `doc` is its artifact: the series file becomes the artifact's
        series, the endpoint shows the final counts."""
        if self.series is not None:
            try:
                self.series.finish(doc)
            except OSError as exc:  # the artifact holds the series anyway: say so, go on
                print(f"loadgen: could not finish {self.series.path}: {exc}", file=sys.stderr)
        if self.exporter is not None:
            self.exporter.publish(self._view(metrics))

    def close(self, linger_s: float = LINGER_S) -> None:
        if self.series is not None:
            self.series.close()
        if self.exporter is not None:
            time.sleep(linger_s)  # a scraper's last look at the final values
            self.exporter.stop()


def _quantiles(h: HdrHistogram, sum_us: int) -> Quantiles:
    """Seconds at the exporter's quantiles (a few C-speed passes over the counts: cheap
    enough twice a second), the count and the exact sum."""
    from loadgen.report.prometheus import QUANTILES, Quantiles

    values = hdr.percentiles_us(h, [q * 100 for q in QUANTILES])
    return Quantiles(
        tuple(0.0 if v is None else v / 1e6 for v in values), hdr.total_count(h), sum_us / 1e6
    )


@contextlib.contextmanager
def open_streams(options: StreamOptions) -> Iterator[RunStreams | None]:
    """The streams `options` ask for, open (UsageError when they cannot be), closed after."""
    if not options.wanted:
        yield None
        return
    exporter = None
    if options.metrics_port is not None:
        from loadgen.report.prometheus import Exporter  # prometheus-client only with the flag

        exporter = Exporter(
            options.metrics_host,
            options.metrics_port,
            allow_remote=options.metrics_allow_remote,
        )
    try:
        series = SeriesFile(options.series_path) if options.series_path is not None else None
    except BaseException:
        if exporter is not None:
            exporter.stop()
        raise
    streams = RunStreams(series, exporter)
    try:
        yield streams
    finally:
        streams.close()


@contextlib.asynccontextmanager
async def streaming(streams: RunStreams | None, metrics: RunMetrics) -> AsyncIterator[None]:
    """Feed `streams` from `metrics` for as long as the engine runs."""
    if streams is None:
        yield
        return

    async def feed() -> None:
        while True:
            streams.tick(metrics)
            await asyncio.sleep(TICK_S)

    task = asyncio.get_running_loop().create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
