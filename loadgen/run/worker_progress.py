"""The pipe between a `--workers` run's parent and its workers: one JSON object per line.

A worker (a `loadgen run` with the hidden `--worker-progress-fd`) writes, in order:

- `{"ready": true}` once its signal handlers are in place (the parent holds back any
  Ctrl-C/SIGTERM it forwards until then: before it, the signal's default action would
  kill the worker, and its segment would be lost);
- `{"progress": {...}}` about every second: its LiveSnapshot, for the parent's one panel;
- `{"artifact": "PATH"}` last: where its part of the results was written.

The parent sums the snapshots (`sum_snapshots`) and feeds the sum to the same live display a
single run uses. A worker whose parent is gone (the pipe broken) stops itself gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from loadgen.metrics import LiveSnapshot
from loadgen.report.live import rate_window

PROGRESS_INTERVAL_S = 1.0
MAX_LINE_BYTES = 64 * 1024  # a snapshot line is ~0.5 KiB; anything longer is not ours

EMPTY_SNAPSHOT = LiveSnapshot(
    planned=0,
    started=0,
    completed=0,
    dropped=0,
    in_flight=0,
    retries=0,
    status={},
    errors={},
    transport_errors=0,
    p50_ms=None,
    p95_ms=None,
    p99_ms=None,
    achieved_rps=0.0,
    planned_rps=0.0,
)


@dataclass(frozen=True, slots=True)
class WorkerMessage:
    """One line from a worker, decoded: exactly one of the fields is set."""

    ready: bool = False
    progress: LiveSnapshot | None = None
    artifact: str | None = None


def encode(**message: Any) -> bytes:
    """One line of the protocol (`ready=True`, `progress=snapshot` or `artifact=path`)."""
    if isinstance(snapshot := message.get("progress"), LiveSnapshot):
        message["progress"] = asdict(snapshot)
    return orjson.dumps(message) + b"\n"


def decode(line: bytes) -> WorkerMessage | None:
    """The message on `line`, or None for anything else (a stray print, a torn line)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("ready") is True:
        return WorkerMessage(ready=True)
    if isinstance(path := data.get("artifact"), str):
        return WorkerMessage(artifact=path)
    if isinstance(fields := data.get("progress"), dict):
        return _snapshot_message(fields)
    return None


def _snapshot_message(fields: dict[str, Any]) -> WorkerMessage | None:
    try:
        snapshot = LiveSnapshot(**fields)
    except TypeError:  # missing or unknown fields: another version's worker
        return None
    return WorkerMessage(progress=snapshot)


def sum_snapshots(snapshots: Iterable[LiveSnapshot]) -> LiveSnapshot:
    """The workers' snapshots as one run's: counts, status and rates added up.

    Percentiles cannot be added: the live panel shows the slowest worker's (an upper bound
    of the whole run's). The artifact's percentiles are exact: its histograms are merged."""
    snaps = list(snapshots)
    if not snaps:
        return EMPTY_SNAPSHOT
    return LiveSnapshot(
        planned=sum(s.planned for s in snaps),
        started=sum(s.started for s in snaps),
        completed=sum(s.completed for s in snaps),
        dropped=sum(s.dropped for s in snaps),
        in_flight=sum(s.in_flight for s in snaps),
        retries=sum(s.retries for s in snaps),
        status=_added(s.status for s in snaps),
        errors=_added(s.errors for s in snaps),
        transport_errors=sum(s.transport_errors for s in snaps),
        p50_ms=_highest(s.p50_ms for s in snaps),
        p95_ms=_highest(s.p95_ms for s in snaps),
        p99_ms=_highest(s.p99_ms for s in snaps),
        achieved_rps=float(sum(s.achieved_rps for s in snaps)),
        planned_rps=float(sum(s.planned_rps for s in snaps)),
    )


def _added(tallies: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for tally in tallies:
        total.update(tally)
    return dict(total)


def _highest(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def send(fd: int, **message: Any) -> bool:
    """Write one line to the parent; False if the parent is gone (the pipe is broken).

    A gone parent cannot merge nor show anything: the worker stops itself as Ctrl-C
    would (SIGTERM to itself: graceful stop, its part still written)."""
    try:
        os.write(fd, encode(**message))
    except BrokenPipeError:
        os.kill(os.getpid(), signal.SIGTERM)
        return False
    return True


async def emit_progress(
    fd: int,
    total_s: float,
    elapsed: Callable[[], float],
    snapshot: Callable[[float], LiveSnapshot],
) -> None:
    """Every second until cancelled, then once more (the final counts): the snapshot of the
    last complete second, as the live panel would show it (`rate_window`)."""

    def current() -> LiveSnapshot:
        return rate_window(elapsed(), total_s, snapshot)[1]

    try:
        while send(fd, progress=current()):
            await asyncio.sleep(PROGRESS_INTERVAL_S)
        await asyncio.Event().wait()  # the parent is gone: nothing more to tell
    finally:
        with contextlib.suppress(OSError):
            os.write(fd, encode(progress=current()))
