"""`abort_on_fail` thresholds watched while the run goes on: every ~2 s the data so far is
evaluated (the same evaluation as at the end, loadgen/thresholds/), and the first such
threshold that fails after its `delay_abort_eval` stops the run as `aborted`, naming it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from loadgen.inputs.models import ThresholdSpec
from loadgen.metrics import RunMetrics
from loadgen.run.engine import Engine
from loadgen.thresholds.evaluate import abort_key, abort_reason, failed_abort
from loadgen.thresholds.observations import Observations

EVERY_S = 2.0  # as k6: often enough to stop a bad run early, rare enough to cost nothing


@dataclass(slots=True)
class ThresholdWatch:
    aborted_by: str | None = None  # `abort_key` of the threshold that stopped the run


@contextlib.asynccontextmanager
async def watching_thresholds(
    specs: Sequence[ThresholdSpec],
    metrics: RunMetrics,
    engine: Engine,
    elapsed_s: Callable[[], float],
    every_s: float = EVERY_S,
) -> AsyncIterator[ThresholdWatch]:
    """Watch the `abort_on_fail` thresholds of `specs` for as long as the block runs."""
    watch = ThresholdWatch()
    aborting = [s for s in specs if s.abort_on_fail]
    if not aborting:
        yield watch
        return
    task = asyncio.get_running_loop().create_task(
        _watch(aborting, metrics, engine, elapsed_s, every_s, watch)
    )
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _watch(
    aborting: Sequence[ThresholdSpec],
    metrics: RunMetrics,
    engine: Engine,
    elapsed_s: Callable[[], float],
    every_s: float,
    watch: ThresholdWatch,
) -> None:
    while True:
        await asyncio.sleep(every_s)
        obs = Observations.of_measurements(metrics.measurements(), elapsed_s())
        spec = failed_abort(aborting, obs)
        if spec is not None:
            watch.aborted_by = abort_key(spec)
            engine.request_stop("aborted", abort_reason(spec, obs))
            return
