"""Run metrics: HDR histograms per scenario (latency from the planned start, service time
from the send), status and error counters, scheduler lag and a per-second series; cheap to
record on the engine's hot path and mergeable across runs without loss."""

from loadgen.metrics.outcomes import STATUS_CLASSES, Outcomes, Tally, status_class
from loadgen.metrics.recorder import (
    FLUSH_AT,
    LiveSnapshot,
    Measurements,
    RunMetrics,
    ScenarioMeasurements,
)
from loadgen.transport import ERROR_KINDS

__all__ = [
    "ERROR_KINDS",
    "FLUSH_AT",
    "STATUS_CLASSES",
    "LiveSnapshot",
    "Measurements",
    "Outcomes",
    "RunMetrics",
    "ScenarioMeasurements",
    "Tally",
    "status_class",
]
