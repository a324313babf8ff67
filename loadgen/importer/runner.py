"""An import from start to reconciliation: the checkpoint opened (or resumed), the pieces
built, the session run on anyio, and the artifact written whatever the ending.

Endings and exit codes (loadgen.errors.ExitCode): the whole file settled, 0; a stop
signal, 130 (in-flight batches finished first); the server refused the credentials, 5.
A kill -9 has no ending: the checkpoint written after the last finished batch is where
`--resume` starts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

from loadgen.errors import ExitCode, LoadgenError, SafetyStop
from loadgen.importer import result
from loadgen.importer.checkpoint import Checkpoint, CheckpointError
from loadgen.importer.mapping import ApiChoice, ImportMapping
from loadgen.importer.pacing import Pacer, RateCurve
from loadgen.importer.progress import Display, count_lines
from loadgen.importer.reader import file_identity
from loadgen.importer.sender import DeadLetters, RetryPolicy, Sender, dead_lettered_lines
from loadgen.importer.session import Session, SessionSetup


@dataclass(frozen=True, slots=True)
class ImportJob:
    setup: SessionSetup
    choice: ApiChoice
    credentials: Mapping[str, str]
    curve: RateCurve
    cap: float
    resume: bool
    dead_letter_path: Path
    out: Path
    target_name: str
    display: Display
    retry: RetryPolicy


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    doc: dict[str, Any]
    path: Path
    exit_code: ExitCode


def open_checkpoint(job: ImportJob, identity: str) -> Checkpoint:
    """The checkpoint to continue from (`--resume`), or a new one; never a silent restart."""
    setup, path = job.setup, job.setup.checkpoint_path
    if not job.resume:
        if path.exists():
            raise CheckpointError(
                f"{path}: an import of this file was started; fix: add --resume to continue "
                "it, or delete the checkpoint (and its dead-letter file) to start again"
            )
        if job.dead_letter_path.exists() and job.dead_letter_path.stat().st_size:
            raise CheckpointError(
                f"{job.dead_letter_path}: the dead-letter file is not empty; fix: move it "
                "away or name another with --dead-letter"
            )
        return Checkpoint(setup.source, identity, setup.fmt, job.choice.api, time.time())
    checkpoint = Checkpoint.read(path)
    if checkpoint.identity != identity:
        raise CheckpointError(
            f"{path}: the checkpoint is for another file (or this one changed): "
            f"{checkpoint.file}; fix: resume with the file it was made for"
        )
    if (checkpoint.format, checkpoint.api) != (setup.fmt, job.choice.api):
        raise CheckpointError(
            f"{path}: the import was started as {checkpoint.format} to {checkpoint.api}; "
            "fix: resume with the same --format and target API"
        )
    return checkpoint


def run_import(job: ImportJob) -> ImportOutcome:
    identity = file_identity(job.setup.path)
    checkpoint = open_checkpoint(job, identity)
    checkpoint.counts.sessions += 1
    already_dead = dead_lettered_lines(job.dead_letter_path) if job.resume else set()
    mapping = ImportMapping(job.choice, job.credentials, identity, checkpoint.started_at)
    dead = DeadLetters(job.dead_letter_path, job.setup.source)
    facts = {
        "file": job.setup.source,
        "identity": identity,
        "format": job.setup.fmt,
        "target": job.target_name,
        "api": job.choice.api,
        "started_at": result.iso(checkpoint.started_at),
        "rate_cap": job.cap,
        "dead_letter_file": str(job.dead_letter_path),
        "checkpoint_file": str(job.setup.checkpoint_path),
    }
    stop: LoadgenError | None = None
    try:
        session = anyio.run(_main, job, checkpoint, mapping, dead, already_dead)
    except SafetyStop as exc:
        stop, session = exc, None
    finally:
        dead.close()
        job.display.stop()
    counts = checkpoint.counts
    latency = _latency(checkpoint)
    if stop is not None:
        doc = result.build(facts, counts, latency, "stopped", str(stop))
        code = ExitCode.SAFETY_STOP
    elif session is not None and session.finished:
        doc, code = result.build(facts, counts, latency, "complete", None), ExitCode.OK
    else:
        why = f"stopped by {session.stopped_by if session else 'a signal'}; resume with --resume"
        doc, code = result.build(facts, counts, latency, "interrupted", why), ExitCode.INTERRUPTED
    result.write(doc, job.out)
    return ImportOutcome(doc, job.out, code)


def _latency(checkpoint: Checkpoint) -> Any:
    from loadgen.metrics.hdr import decode, new_histogram

    return decode(checkpoint.latency_hdr) if checkpoint.latency_hdr else new_histogram()


async def _main(
    job: ImportJob,
    checkpoint: Checkpoint,
    mapping: ImportMapping,
    dead: DeadLetters,
    already_dead: set[int],
) -> Session:
    setup = job.setup
    timeout = httpx.Timeout(_REQUEST_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S)
    limits = httpx.Limits(max_connections=setup.concurrency)
    async with httpx.AsyncClient(
        base_url=setup.url, verify=setup.verify_tls, timeout=timeout, limits=limits
    ) as client:
        pacer = Pacer(job.curve, job.cap)
        session_box: list[Session] = []
        sender = Sender(
            client,
            mapping,
            pacer,
            dead,
            checkpoint.counts,
            lambda: bool(session_box and session_box[0].stopped_by),
            job.retry,
        )
        session = Session(setup, checkpoint, mapping, sender, dead, already_dead, job.display)
        session_box.append(session)
        job.display.start(count_lines(setup.path), checkpoint.counts.read)
        try:
            await session.run(client)
        except BaseExceptionGroup as group:  # a send task's stop, out of the task groups
            raise _first_stop(group) from None
        return session


def _first_stop(group: BaseExceptionGroup[Any]) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_stop(exc)
        found: BaseException = exc
        return found
    return group


_CONNECT_TIMEOUT_S = 10.0
_REQUEST_TIMEOUT_S = 30.0

__all__ = ["ImportJob", "ImportOutcome", "open_checkpoint", "run_import"]
