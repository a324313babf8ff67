"""The artifact of one run, from what the run accumulated (`RunState`): the generator's
verdict, what the embedded mock received, the thresholds' outcomes, and the file written
where asked (or at the fallback), whatever way the run ended."""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loadgen.arrivals.plan import Plan
from loadgen.inputs.models import Profile
from loadgen.inputs.redact import redact_urls
from loadgen.inputs.targets import Target
from loadgen.metrics import RunMetrics
from loadgen.results.artifact import build_artifact, default_artifact_path, generator_verdict
from loadgen.results.output import write_or_fallback
from loadgen.results.status import EXIT_CODE_OF_STATUS, exit_code_of
from loadgen.run.cpuwatch import CpuWatch
from loadgen.run.engine import EngineOutcome
from loadgen.run.startat import start_facts
from loadgen.thresholds.evaluate import evaluate as evaluate_thresholds

if TYPE_CHECKING:
    from loadgen.mock.process import LocalMock

from loadgen.run.options import RunOptions, RunResult


@dataclass(slots=True)
class RunState:
    """What one run accumulates, so that any ending can write the artifact from it."""

    plan: Plan
    options: RunOptions
    metrics: RunMetrics
    url: str
    written: list[RunResult]  # the artifact once written, for whoever outlives the loop
    outcome: EngineOutcome = field(default_factory=EngineOutcome)
    observed: dict[str, Any] | None = None
    aborted_by: str | None = None  # the abort_on_fail threshold that stopped the run
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    cpu_before: resource.struct_rusage = field(
        default_factory=lambda: resource.getrusage(resource.RUSAGE_SELF)
    )
    wall_before: float = field(default_factory=time.perf_counter)
    cpu: CpuWatch = field(default_factory=CpuWatch)
    notes: dict[str, Any] = field(default_factory=dict)  # what the scenarios counted

    @property
    def profile(self) -> Profile:
        return self.plan.profile

    @property
    def target(self) -> Target:
        return self.plan.target


def responses_of(metrics: RunMetrics) -> int:
    """The responses loadgen got (any status), to set against what the mock received."""
    return sum(metrics.snapshot().status.values())


def observed_of(mock: LocalMock, answered: int) -> dict[str, Any]:
    """The mock's own counts; a mock that died no longer answers, which the artifact says
    (the run's results stand: this was a crash of the mock, not of the run)."""
    try:
        stats = mock.stats()
    except (OSError, RuntimeError) as exc:
        return {"difference": f"the embedded mock did not report its counts: {exc}"}
    return _observed(stats, answered)


def _observed(stats: dict[str, Any], answered: int) -> dict[str, Any]:
    """What the embedded mock says it received, next to what loadgen says it sent."""
    received = int(stats.get("requests_total", 0))
    difference = received - answered
    verdict = "no difference" if difference == 0 else f"{difference:+,} requests"
    return {
        "requests_received": received,
        "requests_answered_by_loadgen": answered,
        "accepted_events": int(stats.get("events_accepted", 0)),
        "ordering_violations": int(stats.get("ordering_violations", 0)),
        "overflow_events": int(stats.get("overflow_events", 0)),
        "by_status": stats.get("responses_by_status", {}),
        "difference": f"mock received {received:,}, loadgen got {answered:,} responses: {verdict}",
    }


def write_results(state: RunState) -> RunResult:
    profile, target, options = state.profile, state.target, state.options
    metrics, outcome, cpu_before = state.metrics, state.outcome, state.cpu_before
    ended_at = datetime.now(UTC)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    wall = max(time.perf_counter() - state.wall_before, 1e-9)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    cpu_percent = 100.0 * cpu_s / wall
    metrics.flush()
    lag_p99 = metrics.lag_percentile_ms(99.0)
    snap = metrics.snapshot()
    bottleneck, reason = generator_verdict(
        cpu_percent,
        lag_p99,
        cpu_peak_percent=state.cpu.peak_percent,
        # a late start's skipped arrivals are not the generator's doing
        dropped_share=(snap.dropped - outcome.skipped_late) / snap.planned if snap.planned else 0.0,
    )
    if not snap.planned:  # stopped while starting: start-up CPU says nothing about a load
        bottleneck, reason = False, None
    target_doc: dict[str, Any] = {"name": target.name, "url": state.url}
    if state.observed is not None:
        target_doc["observed"] = state.observed
    reason_text = outcome.reason
    if outcome.unfinished:
        reason_text = f"{reason_text or outcome.status}; {outcome.unfinished} requests unfinished"
    doc = build_artifact(
        metrics=metrics,
        status=outcome.status,
        status_reason=redact_urls(reason_text) if reason_text else None,
        profile={"name": profile.name, "path": str(profile.path), "hash": profile.content_hash},
        target=target_doc,
        started_at=state.started_at,
        ended_at=ended_at,
        duration_s=wall,
        generator={"cpu_percent": cpu_percent, "bottleneck": bottleneck, "reason": reason},
        run={
            **start_facts(options.segment, options.segment_text, options.start_at, outcome),
            "seed": options.seed,
            "python": sys.version.split()[0],
            **state.notes,
        },
    )
    doc["thresholds"] = evaluate_thresholds(
        profile.thresholds,
        doc,
        aborted_by=state.aborted_by,
        fail_on_generator_bottleneck=profile.fail_on_generator_bottleneck,
    )
    requested = options.out or default_artifact_path(profile.name, ended_at)
    if options.streams is not None:  # the series file from the artifact, the final values
        options.streams.finish(doc, metrics)  # (before the artifact: it appears last)
    path, problem = write_or_fallback(requested, doc)
    # a slice of a fleet records its thresholds; the merged artifact is judged
    exit_code = exit_code_of(doc) if options.thresholds_exit else EXIT_CODE_OF_STATUS[doc["status"]]
    state.written.append(RunResult(doc, path, exit_code, requested, problem))
    return state.written[-1]
