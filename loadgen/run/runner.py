"""One run from start to artifact: wire the target, transport, scenarios, metrics, safety
and display around the engine, and write the results whatever happens.

The CLI calls `run_profile` with the plan it resolved once (the one the guard checked); the
engine itself knows nothing of targets, guards or files.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import resource
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loadgen import interrupts
from loadgen.arrivals.mix import ScenarioMix
from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import Schedule
from loadgen.errors import ExitCode, LoadgenError
from loadgen.guard.runtime import RetryBackoff, SafetyMonitor
from loadgen.inputs.models import Profile
from loadgen.inputs.targets import Target
from loadgen.metrics import RunMetrics
from loadgen.report.live import show_progress
from loadgen.run.clock import MonotonicClock
from loadgen.run.cpuwatch import CpuWatch
from loadgen.run.engine import Engine, EngineConfig, EngineOutcome
from loadgen.run.options import RunOptions, RunResult
from loadgen.run.ratecap import RateCap
from loadgen.run.signals import signals_stopping
from loadgen.run.startat import monotonic_of, wait_for_start
from loadgen.run.streaming import streaming
from loadgen.run.thresholdwatch import watching_thresholds
from loadgen.run.worker_progress import emit_progress
from loadgen.run.writing import RunState, observed_of, responses_of, write_results
from loadgen.scenarios import ScenarioSet
from loadgen.transport import Transport
from loadgen.transport.factory import make_transport

if TYPE_CHECKING:
    from loadgen.mock.process import LocalMock

MOCK_NOT_STARTED = "local://not-started"  # the `local` target's URL in a run that ended first


def run_profile(plan: Plan, options: RunOptions) -> RunResult:
    """The run on its event loop (uvloop when available); always returns with an artifact
    written, even after a second Ctrl-C that ended the loop."""
    written: list[RunResult] = []
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported OS
        return asyncio.run(_run_to_artifact(plan, options, written))
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_run_to_artifact(plan, options, written))
    except KeyboardInterrupt:  # a second Ctrl-C outside our task: the cancelled run wrote it
        if written:
            return dataclasses.replace(written[-1], exit_code=ExitCode.INTERRUPTED)
        raise


@contextlib.contextmanager
def _target_url(target: Target, options: RunOptions) -> Iterator[tuple[str, LocalMock | None]]:
    if not target.is_local:
        yield target.url, None
        return
    if options.local_url is not None:  # a worker: the parent runs the one mock for all
        yield options.local_url, None
        return
    # The mock's process control (~15 ms to import) only for the `local` target.
    from loadgen.mock.process import LocalMock

    with LocalMock(rps_limit=_mock_rps_limit(target, options)) as mock:
        yield mock.url, mock


def _mock_rps_limit(target: Target, options: RunOptions) -> float:
    """The embedded mock stands for the workspace: an approval raised its limit to the
    approved peak, which is the run's rate cap (else the target's workspace limit)."""
    return options.rate_cap or target.limits.workspace_rps_limit


async def _run_to_artifact(plan: Plan, options: RunOptions, written: list[RunResult]) -> RunResult:
    """The run, with its artifact written however it ends: completed, stopped, or crashed."""
    target = plan.target
    metrics = RunMetrics([s.name for s in plan.profile.scenarios])
    url = MOCK_NOT_STARTED if target.is_local else target.url  # until the mock has its port
    state = RunState(plan, options, metrics, url, written)
    try:
        await _settled(_run_with_resources(state))
    except (asyncio.CancelledError, KeyboardInterrupt):  # a second Ctrl-C before the engine ran
        state.outcome.status, state.outcome.reason = "interrupted", _interrupted_reason(state)
        return write_results(state)
    except Exception as exc:  # a crash still writes a valid artifact, then re-raises
        reason = str(exc) if isinstance(exc, LoadgenError) else f"internal error: {exc!r}"
        state.outcome.status, state.outcome.reason = "aborted", reason
        write_results(state)
        raise
    return write_results(state)


async def _settled(work: Coroutine[Any, Any, None]) -> None:
    """Await `work`; however it ends, signals are only noted from then on: what follows is
    writing the artifact, which no further Ctrl-C may cut short."""
    try:
        await work
    finally:
        interrupts.settle()


def _interrupted_reason(state: RunState) -> str:
    when = "" if state.metrics.snapshot().started else " before the first request"
    return f"interrupted by {interrupts.pending() or 'SIGINT'}{when}"


async def _run_with_resources(state: RunState) -> None:
    """The run with what it holds open around the engine: the target (the embedded mock for
    `local`), the scenarios, the transport and the CPU watch, each closed however it ends."""
    profile, target, options = state.profile, state.target, state.options
    if interrupts.pending():  # Ctrl-C while loadgen was starting: start nothing more
        state.outcome.status, state.outcome.reason = "interrupted", _interrupted_reason(state)
        return
    schedule = state.plan.schedule
    if not options.segment.is_full:  # its lookup tables (~75 ms, once per process) now, not
        options.segment.low_bits_table()  # as scheduler lag on the first requests
    with _target_url(target, options) as (url, mock):
        state.url = url
        credentials: dict[str, dict[str, str]] = {
            s.api: target.credential_values(s.api) for s in profile.scenarios
        }
        scenarios = ScenarioSet(state.plan, credentials, seed=options.seed)
        transport = make_transport(
            url,
            target.transport,
            max_connections=target.max_connections,
            timeout_s=profile.load.timeout_s,
            verify_tls=target.verify_tls,
            peak_rps=schedule.peak_rate,
        )
        try:
            async with _watching_cpu(state.cpu):
                state.outcome = await _run_engine(state, schedule, scenarios, transport)
        finally:
            await transport.aclose()
            scenarios.close()
            state.notes = {
                "alias_conversions": scenarios.alias_conversions,
                "replay_skipped": scenarios.replay_skipped,
            }
        if mock is not None:
            state.observed = observed_of(mock, responses_of(state.metrics))


@contextlib.asynccontextmanager
async def _watching_cpu(cpu: CpuWatch) -> AsyncIterator[None]:
    watch = asyncio.get_running_loop().create_task(cpu.run())
    try:
        yield
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch


async def _run_engine(
    state: RunState, schedule: Schedule, scenarios: ScenarioSet, transport: Transport
) -> EngineOutcome:
    """The engine's run under the live display and loadgen's signal handlers; a safety stop
    on 429s says whose limit they were."""
    profile, target, options, metrics = state.profile, state.target, state.options, state.metrics
    safety = SafetyMonitor(target.limits.safety_error_ratio, target.limits.safety_window_s)
    engine = _make_engine(profile, options, schedule, scenarios, transport, metrics, safety)
    title = f"loadgen {profile.name} -> {target.name}"
    # The handlers go in after the GC's collection (a signal meanwhile is noted, and stops
    # the run before its first request) and come out after the display's last frame.
    with _gc_frozen(), signals_stopping(engine):
        if options.start_at is not None:
            await _wait_for_agreed_start(state, engine, options.start_at)
        # the run's clock: from the engine's start, or from the agreed one (a late slice
        # shows where in the schedule it is); the display and the threshold watch share it
        agreed = options.start_at
        began = monotonic_of(agreed) if agreed is not None else time.perf_counter()

        def elapsed() -> float:
            return max(0.0, time.perf_counter() - began)

        # the series rows' `time`: offset 0 is the engine's start (the agreed one, if any)
        metrics.mark_start(options.start_at)
        async with (
            _live_display(options, title, schedule.duration_s, metrics, elapsed),
            watching_thresholds(profile.thresholds, metrics, engine, elapsed) as watch,
            streaming(options.streams, metrics),
        ):
            outcome = await engine.run()
    state.aborted_by = watch.aborted_by
    if outcome.reason is not None and outcome.reason == safety.tripped():
        outcome.reason += _where_429s_came_from(target, options, metrics)
    return outcome


async def _wait_for_agreed_start(state: RunState, engine: Engine, agreed: datetime) -> None:
    """Wait for a start ahead (a stop ends it; the engine then sends nothing). `started_at`
    is then the agreed start, the series' second 0; after a wait, the wall time and CPU
    count from it too, so the rates are not diluted by the wait."""
    waited = await wait_for_start(
        agreed, lambda: engine.outcome.reason is not None, announce=state.options.display != "quiet"
    )
    if waited and agreed > state.started_at:
        state.wall_before = monotonic_of(agreed)
        state.cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    if waited:
        state.started_at = agreed


def _make_engine(
    profile: Profile,
    options: RunOptions,
    schedule: Schedule,
    scenarios: ScenarioSet,
    transport: Transport,
    metrics: RunMetrics,
    safety: SafetyMonitor,
) -> Engine:
    retries = profile.retries
    return Engine(
        schedule=schedule,
        mix=ScenarioMix(scenarios.weights),
        builder=scenarios,
        transport=transport,
        recorder=metrics,
        clock=MonotonicClock(),
        config=EngineConfig(
            max_in_flight=profile.load.max_in_flight,
            grace_s=options.grace_s,
            ordered=profile.users.ordered,
        ),
        segment=options.segment,
        safety=safety,
        retry=RetryBackoff(retries.max_retries, retries.max_backoff_s) if retries.enabled else None,
        rate_cap=RateCap(options.rate_cap) if options.rate_cap else None,
        scenario_names=scenarios.names,
        start_at=monotonic_of(options.start_at) if options.start_at is not None else None,
    )


def _where_429s_came_from(target: Target, options: RunOptions, metrics: RunMetrics) -> str:
    """A safety stop on 429s: loadgen kept its own cap, so they were the target's answer."""
    if not metrics.snapshot().status.get("429"):
        return ""
    cap = f"{options.rate_cap:g} req/s" if options.rate_cap else "none"
    if target.is_local:
        return (
            "; the 429s were the target's answers (the embedded mock's workspace limit of "
            f"{_mock_rps_limit(target, options):g} req/s)"
        )
    return f"; the 429s were the target's answers (its own rate limit; loadgen's cap: {cap})"


@contextlib.asynccontextmanager
async def _live_display(
    options: RunOptions,
    title: str,
    duration_s: float,
    metrics: RunMetrics,
    elapsed: Callable[[], float],
) -> AsyncIterator[None]:
    """The live progress for as long as the engine runs, on the run's clock `elapsed`; a
    worker's goes to its parent, which shows the sum of all workers'."""
    if options.progress_fd is not None:
        progress = emit_progress(options.progress_fd, duration_s, elapsed, metrics.snapshot)
    else:
        progress = show_progress(options.display, title, duration_s, elapsed, metrics.snapshot)
    display = asyncio.get_running_loop().create_task(progress)
    try:
        yield
    finally:
        display.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await display


@contextlib.contextmanager
def _gc_frozen() -> Iterator[None]:
    """Everything alive now (modules, the population table, the pool) lives for the whole
    run: freezing it keeps the cyclic GC from rescanning it, a source of multi-ms pauses.

    No `gc.collect()` first: frozen objects are never scanned, garbage or not, so it kept
    no pause out of the run, but cost 14-25 ms before the first request to find ~40
    unreachable objects among ~39,000 (docs/benchmarks.md, "Start-up"; they are freed
    after the run, at `unfreeze`)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
