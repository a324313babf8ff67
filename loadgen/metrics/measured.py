"""What a run measured, as plain records: the live snapshot for displays, and the flushed
measurements the results artifact is built from (RunMetrics in recorder.py makes both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from loadgen.metrics.outcomes import Outcomes
from loadgen.metrics.series import Row


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Counts so far, for the live display. `in_flight` = started - completed - errors."""

    planned: int
    started: int
    completed: int
    dropped: int
    in_flight: int
    retries: int
    status: Mapping[str, int]
    errors: Mapping[str, int]
    transport_errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    achieved_rps: float  # sends in the last full second ...
    planned_rps: float  # ... and the arrivals planned in that same second


@dataclass(frozen=True, slots=True)
class ScenarioMeasurements:
    name: str
    sent: int
    dropped: int
    outcomes: Outcomes
    latency: HdrHistogram
    service: HdrHistogram
    error_latency: HdrHistogram  # the part of `latency` that got no response
    latency_sum_us: int = 0  # the sum of the recorded latencies (as recorded, not clamped)
    service_sum_us: int = 0


@dataclass(frozen=True, slots=True)
class Measurements:
    """Everything a run measured, flushed and closed: the input of the results artifact."""

    planned: int
    scenarios: tuple[ScenarioMeasurements, ...]
    lag: HdrHistogram
    retry_after_count: int
    retry_after_max_s: float | None
    clamped: int
    series: list[Row]
    series_histograms: dict[str, str]
    series_service_histograms: dict[str, str]
    scenario_series: dict[str, list[Row]]
    # per scenario, {"latency": {t: encoded}, "service": {t: encoded}}
    scenario_series_histograms: dict[str, dict[str, dict[str, str]]]
