"""What a run is asked to do (`RunOptions`, from the CLI) and what it hands back
(`RunResult`): shared by the single-process run (runner.py) and the workers (workers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadgen.arrivals.schedule import FULL_SEGMENT, ExecutionSegment
from loadgen.errors import ExitCode
from loadgen.report.live import DisplayMode

if TYPE_CHECKING:
    from loadgen.run.streaming import RunStreams


@dataclass(frozen=True, slots=True)
class RunOptions:
    out: Path | None = None
    grace_s: float = 5.0
    display: DisplayMode = "quiet"
    segment: ExecutionSegment = FULL_SEGMENT
    seed: int = 0
    rate_cap: float | None = None  # requests/s incl. retries (the approved or allowed peak)
    start_at: datetime | None = None  # offset 0 agreed with a fleet (`--start-at`), UTC
    segment_text: str | None = None  # `--segment` as given, for the artifact
    # a worker of `--workers N` (loadgen/run/workers.py): the parent's embedded mock, and
    # the pipe its progress goes to instead of a display
    local_url: str | None = None
    progress_fd: int | None = None
    streams: RunStreams | None = None  # --out-series / --metrics-port, opened by the CLI
    thresholds_exit: bool = True  # False for a fleet's slice: failed thresholds exit 0


@dataclass(frozen=True, slots=True)
class RunResult:
    doc: dict[str, Any]
    path: Path  # where the artifact is
    exit_code: ExitCode  # by the run's status
    requested: Path  # where it was asked for (`--out` or the default)
    not_there_because: str | None = None  # set when `path` is the fallback, not `requested`
