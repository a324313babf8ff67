"""A run's agreed start (`--start-at`) and slice (`--segment`): the wait for a start ahead,
the clocks translated, and what the artifact's `run` block says about both.

The engine times everything on the monotonic clock, a fleet agrees on wall-clock time: the
agreed moment is translated once, when the engine is made, so a wall-clock step during
the run (NTP) cannot move arrivals. The wait happens after everything slow (the guard, the
mock, the transport), and the engine waits its last milliseconds on its own timers, so the
first arrival is on time.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from loadgen.arrivals.schedule import ExecutionSegment
from loadgen.inputs.moment import iso_utc
from loadgen.run.engine import EngineOutcome

# The runner's wait ends this much before the agreed start; the engine's own timers (~1 ms
# precise) take the rest, so the first arrival is neither late nor the wait busy.
HANDOVER_S = 0.05
POLL_S = 0.05  # how often the wait looks for a stop (Ctrl-C, SIGTERM)


def monotonic_of(moment: datetime) -> float:
    """`moment` on the engine's clock (perf_counter), as of now."""
    return time.perf_counter() + (moment - datetime.now(UTC)).total_seconds()


def wall_of(monotonic: float) -> datetime:
    """A perf_counter reading as wall-clock time (UTC), as of now."""
    return datetime.now(UTC) - timedelta(seconds=time.perf_counter() - monotonic)


async def wait_for_start(
    agreed: datetime,
    stopped: Callable[[], bool],
    *,
    announce: bool,
    stream: TextIO = sys.stderr,
) -> bool:
    """Sleep until just before `agreed`, saying so once; False if a stop came first."""
    remaining = (agreed - datetime.now(UTC)).total_seconds()
    if remaining <= HANDOVER_S:
        return not stopped()
    if announce:
        stream.write(
            f"loadgen: waiting for the agreed start at {iso_utc(agreed)} (in {remaining:.0f} s)\n"
        )
        stream.flush()
    deadline = time.perf_counter() + remaining - HANDOVER_S
    while not stopped():
        left = deadline - time.perf_counter()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, POLL_S))
    return False


def start_facts(
    segment: ExecutionSegment,
    segment_text: str | None,
    agreed: datetime | None,
    outcome: EngineOutcome,
) -> dict[str, Any]:
    """The `run` block's facts about the slice and the start (docs/results.md, `run`)."""
    actual = outcome.first_dispatch_at
    late_s = 0.0
    if agreed is not None and outcome.began_at is not None:
        late_s = max(0.0, outcome.began_at - outcome.started_at)
    return {
        "segment": segment_text or str(segment),
        "segment_start": str(segment.start),
        "segment_end": str(segment.end),
        "start_at_agreed": iso_utc(agreed) if agreed is not None else None,
        "start_at_actual": iso_utc(wall_of(actual)) if actual is not None else None,
        "start_late_s": round(late_s, 6),
        "skipped_late": outcome.skipped_late,
    }
