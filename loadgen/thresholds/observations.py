"""What thresholds are evaluated on: counts, histograms and the per-second series of a run,
read the same way from a saved artifact (`loadgen check`, `loadgen merge`, the end of a run)
and from a run still going (every ~2 s, for `abort_on_fail`). One reading, so a threshold
means the same thing live, at the end and on a file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.metrics import hdr
from loadgen.metrics.blocks import count_blocks, histogram_block
from loadgen.metrics.recorder import Measurements

Doc = dict[str, Any]


@dataclass(slots=True)
class Observations:
    """`totals` and `scenarios` are the artifact's count blocks (planned, sent, dropped,
    completed, errors, status, ...); `histograms` its named histograms; `series` its rows."""

    totals: Doc
    scenarios: Mapping[str, Doc]
    histograms: Mapping[str, HdrHistogram]
    duration_s: float
    series: Sequence[Doc] = ()
    series_histograms: Mapping[str, str] = field(default_factory=dict)
    # each second's histogram decoded once: every window it falls in reads it again
    _decoded: dict[int, HdrHistogram | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of_artifact(cls, doc: Doc) -> Observations:
        return cls(
            totals=doc["totals"],
            scenarios=doc["scenarios"],
            histograms={name: hdr.decode(text) for name, text in doc["histograms"].items()},
            duration_s=float(doc["duration_s"]),
            series=doc.get("series", []),
            series_histograms=doc.get("series_histograms", {}),
        )

    @classmethod
    def of_measurements(cls, m: Measurements, elapsed_s: float) -> Observations:
        totals, scenarios = count_blocks(m)
        return cls(totals, scenarios, histogram_block(m), elapsed_s, m.series, m.series_histograms)

    def block(self, scenario: str | None) -> Doc | None:
        """The counts of all traffic, or of one scenario (None if the run had no such)."""
        return self.totals if scenario is None else self.scenarios.get(scenario)

    def responses(self, scenario: str | None) -> HdrHistogram | None:
        """Latency of the attempts that got a response: a refused connection's time to fail
        is not a fast answer, so it never helps a latency threshold pass."""
        suffix = "" if scenario is None else f":{scenario}"
        latency = self.histograms.get(f"latency{suffix}")
        errors = self.histograms.get(f"error_latency{suffix}")
        if latency is None:
            return None
        return latency if errors is None else hdr.without(latency, errors)

    def service(self, scenario: str | None) -> HdrHistogram | None:
        return self.histograms.get("service" if scenario is None else f"service:{scenario}")

    def second_histogram(self, t: int) -> HdrHistogram | None:
        if t not in self._decoded:
            text = self.series_histograms.get(str(t))
            self._decoded[t] = None if text is None else hdr.decode(text)
        return self._decoded[t]
