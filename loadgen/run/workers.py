"""`loadgen run --workers N`: one run split across N processes on this machine.

Worker i of N is a `loadgen run` of execution segment i/N (exact: the union of the
segments is the single-process schedule), with a hidden option each for what the parent
decided once: its share of the rate cap (cap/N, so that together they never exceed the
peak the guard approved), the URL of the parent's one embedded mock (`local`), and the pipe
its progress goes to (loadgen/run/worker_progress.py). The parent:

- supervises them in an anyio task group (structured: a parent that fails kills them);
- forwards every Ctrl-C/SIGTERM it gets to each worker (the workers run in sessions of
  their own, so a terminal's Ctrl-C reaches them only through the parent, once);
- shows one live panel, the sum of the workers' snapshots;
- merges the parts losslessly into ONE artifact (`merge_fleet`, as `loadgen merge` does),
  from the parts that exist: a worker lost (killed, crashed without results) makes it
  `aborted`, the reason naming its segment. Parts go to a directory beside the artifact,
  removed once merged and kept when a worker was lost or the merged artifact could not be
  written where asked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loadgen.arrivals.plan import Plan
from loadgen.errors import UsageError
from loadgen.inputs.redact import redact_urls
from loadgen.results.artifact import ResultsError, default_artifact_path, read_artifact
from loadgen.results.output import DEFAULT_DIR, write_or_fallback
from loadgen.results.status import exit_code_of
from loadgen.run.options import RunOptions, RunResult
from loadgen.run.runner import _target_url
from loadgen.run.supervisor import Worker, supervise
from loadgen.run.writing import observed_of

if TYPE_CHECKING:
    from loadgen.results.status import RunStatus

MAX_WORKERS = 64
Doc = dict[str, Any]


class WorkersError(UsageError):
    """A `--workers` value loadgen cannot run."""


def parse_workers(text: str, cores: int | None = None) -> tuple[int, str | None]:
    """(count, warning) for `--workers TEXT`: `auto` is one per core; more workers than
    cores is allowed, with a warning (they share cores and may become the bottleneck)."""
    cores = cores or os.cpu_count() or 1
    value = text.strip().lower()
    if value == "auto":
        return cores, None
    try:
        count = int(value)
    except ValueError:
        raise WorkersError(
            f"--workers {text!r}: give a whole number from 1 to {MAX_WORKERS}, or auto"
        ) from None
    if not 1 <= count <= MAX_WORKERS:
        raise WorkersError(f"--workers {count}: give 1 to {MAX_WORKERS} (or auto: one per core)")
    if count > cores:
        return count, (
            f"warning: --workers {count} is more than this machine's {cores} cores: the "
            "workers share cores and may be their own bottleneck (the artifact says so)"
        )
    return count, None


@dataclass(frozen=True, slots=True)
class WorkersJob:
    """What the parent hands each worker: the plan it checked and how it was asked for."""

    plan: Plan
    options: RunOptions  # the parent's: its rate cap is the whole run's
    count: int
    target_arg: str  # `--target` as given, for the workers' command line
    targets_arg: Path | None  # `--targets` as given


def worker_command(job: WorkersJob, worker: Worker, url: str | None) -> list[str]:
    """The one place a worker's command line is built (a common start time goes here)."""
    options = job.options
    argv = [*_loadgen(), "run", str(job.plan.profile.path), "--target", job.target_arg]
    if job.targets_arg is not None:
        argv += ["--targets", str(job.targets_arg.resolve())]
    argv += ["--segment", worker.segment, "--out", str(worker.part), "--quiet"]
    argv += ["--no-thresholds-exit"]  # the parent judges the merged data, not one part
    argv += ["--seed", str(options.seed), "--grace", repr(options.grace_s)]
    argv += ["--worker-progress-fd", "1"]  # its stdout is the pipe to the parent
    if options.start_at is not None:  # the user's agreed start, for every worker alike
        argv += ["--start-at", f"{options.start_at.timestamp():.6f}"]
    if options.rate_cap is not None:
        argv += ["--worker-rate-cap", repr(options.rate_cap / job.count)]
    if url is not None:
        argv += ["--worker-url", url]
    return argv


def _loadgen() -> list[str]:
    import sys

    return [sys.executable, "-m", "loadgen"]


def run_workers(job: WorkersJob) -> RunResult:
    """Run the workers, merge their parts, write the one artifact (always, from the parts
    that exist) and return it as a single run's result."""
    plan, options = job.plan, job.options
    started_at = datetime.now(UTC)
    parts_dir = _parts_dir(options.out)
    workers = [
        Worker(i, f"{i}/{job.count}", parts_dir / f"part-{i}.json", parts_dir / f"worker-{i}.log")
        for i in range(1, job.count + 1)
    ]
    observed: Doc | None = None
    problems: list[str] = []  # what went wrong in the parent itself
    with _target_url(plan.target, options) as (url, mock):
        local_url = url if mock is not None else None
        title = f"loadgen {plan.profile.name} -> {plan.target.name} ({job.count} workers)"
        try:
            supervise(
                [(w, worker_command(job, w, local_url)) for w in workers],
                display=options.display,
                title=title,
                duration_s=plan.schedule.duration_s,
            )
        except Exception as exc:  # the workers were killed with it: merge what they left
            problems.append(f"internal error while supervising the workers: {exc!r}")
        docs = _parts(workers)
        if mock is not None:
            answered = sum(sum(d["totals"]["status"].values()) for _, d in docs)
            observed = observed_of(mock, answered)
    doc = _merged(job, docs, workers, url, started_at, problems)
    if observed is not None:
        doc["target"]["observed"] = observed
    kept = len(docs) < len(workers) or bool(problems)
    return _written(options, doc, parts_dir, keep_parts=kept)


def _parts_dir(out: Path | None) -> Path:
    """A fresh directory beside the artifact (the default one: in results/)."""
    beside = out.parent if out is not None else DEFAULT_DIR
    name = out.name if out is not None else "run"
    return Path(tempfile.mkdtemp(prefix=f".{name}.parts-", dir=beside))


def _parts(workers: list[Worker]) -> list[tuple[Worker, Doc]]:
    """The parts the workers wrote and that read back valid (the others are lost)."""
    found = []
    for worker in workers:
        path = Path(worker.artifact) if worker.artifact else worker.part
        try:
            found.append((worker, read_artifact(path)))
        except ResultsError as exc:
            if path.exists():  # written, but not valid: say why (a missing one says itself)
                worker.problem = worker.problem or str(exc)
    return found


def _merged(
    job: WorkersJob,
    docs: list[tuple[Worker, Doc]],
    workers: list[Worker],
    url: str,
    at: datetime,
    problems: list[str],
) -> Doc:
    """The one artifact from the parts; its status and reason say what is missing."""
    from loadgen.results.merge import Part, merge_fleet

    have = {w.index for w, _ in docs}
    lost = [w for w in workers if w.index not in have]
    try:
        parts = [Part(f"worker {w.index} (segment {w.segment})", d) for w, d in docs]
        doc = merge_fleet(parts, allow_partial=True) if docs else _empty(job, url, at)
    except ResultsError as exc:  # parts that disagree: none can stand for the run
        problems.append(f"the workers' parts could not be merged: {exc}")
        doc, docs = _empty(job, url, at), []
    status: RunStatus = "aborted" if lost or problems else doc["status"]
    reasons = list(problems)
    reasons += [f"worker {w.index} (segment {w.segment}) lost: {w.lost_because()}" for w in lost]
    reasons += [f"segment {w.segment}: {d['status_reason']}" for w, d in docs if d["status_reason"]]
    doc["status"], doc["status_reason"] = status, redact_urls("; ".join(reasons)) or None
    doc["run"].setdefault("segments", [])  # no part at all: nothing covered
    doc["run"].update(workers=job.count, lost_segments=[w.segment for w in lost])
    return doc


def _empty(job: WorkersJob, url: str, at: datetime) -> Doc:
    """No worker left results: the artifact still says what was asked and what happened."""
    from loadgen.metrics import RunMetrics
    from loadgen.results.artifact import build_artifact

    profile = job.plan.profile
    return build_artifact(
        metrics=RunMetrics([s.name for s in profile.scenarios]),
        status="aborted",
        status_reason=None,
        profile={"name": profile.name, "path": str(profile.path), "hash": profile.content_hash},
        target={"name": job.plan.target.name, "url": url},
        started_at=at,
        ended_at=datetime.now(UTC),
        duration_s=(datetime.now(UTC) - at).total_seconds(),
        generator={"cpu_percent": 0.0, "bottleneck": False, "reason": None},
    )


def _written(options: RunOptions, doc: Doc, parts_dir: Path, *, keep_parts: bool) -> RunResult:
    requested = options.out or default_artifact_path(doc["profile"]["name"], datetime.now(UTC))
    path, problem = write_or_fallback(requested, doc)
    if keep_parts or problem is not None:
        typer.echo(f"loadgen: the workers' parts are kept in {parts_dir}", err=True)
    else:
        shutil.rmtree(parts_dir, ignore_errors=True)
    exit_code = exit_code_of(doc)
    return RunResult(doc, path, exit_code, requested, problem)
