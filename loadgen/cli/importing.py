"""`loadgen import EVENTS`: a historical import, paced, ordered, resumable (docs/import.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from loadgen.cli.arguments import TargetOpt, TargetsOpt, errors_to_exit_codes, fail, load_plan
from loadgen.errors import ExitCode, UsageError
from loadgen.inputs.targets import LOCAL, Target, load_targets, resolve_target
from loadgen.inputs.targets_file import find_targets_file, targets_file_candidates

if TYPE_CHECKING:
    from loadgen.importer.guarding import Allowed

EventsArg = Annotated[
    Path,
    typer.Argument(help="The events file (NDJSON or CSV).", dir_okay=False, metavar="EVENTS"),
]


ProfileOpt = Annotated[
    Path | None,
    typer.Option(help="A profile: its stages are the ramp, the guard checks it (approval)."),
]
RateOpt = Annotated[
    float | None,
    typer.Option(min=0.01, help="Requests per second (default: the workspace limit)."),
]
RampOpt = Annotated[
    float | None, typer.Option(min=0, help="Seconds from 10 % of --rate to --rate (default 60).")
]
BatchOpt = Annotated[
    int | None, typer.Option(min=1, max=10_000, help="Events per request (default 100).")
]
ConcurrencyOpt = Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")]
ResumeOpt = Annotated[bool, typer.Option(help="Continue from the checkpoint.")]
DeadLetterOpt = Annotated[
    Path | None, typer.Option(help="Dead-letter NDJSON (default EVENTS.dead-letter.ndjson).")
]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="ndjson or csv (default: by extension).")
]
CheckpointOpt = Annotated[
    Path | None, typer.Option(help="Checkpoint file (default EVENTS.checkpoint.json).")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Reconciliation JSON (default EVENTS.import.json)."),
]
RetriesOpt = Annotated[int, typer.Option(min=0, max=100, help="Retries per batch.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")]


@dataclass(frozen=True, slots=True)
class _Files:
    """Where the import keeps its state, beside EVENTS unless named."""

    events: Path
    dead_letter: Path
    checkpoint: Path
    out: Path


@errors_to_exit_codes
def import_events(
    events: EventsArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    profile: ProfileOpt = None,
    rate: RateOpt = None,
    ramp: RampOpt = None,
    batch_size: BatchOpt = None,
    concurrency: ConcurrencyOpt = 4,
    resume: ResumeOpt = False,
    dead_letter: DeadLetterOpt = None,
    file_format: FormatOpt = None,
    checkpoint: CheckpointOpt = None,
    out: OutOpt = None,
    max_retries: RetriesOpt = 8,
    quiet: QuietOpt = False,
) -> None:
    """Import EVENTS into a target: paced, ordered per distinct_id, resumable, reconciled."""
    from loadgen.importer.guarding import from_profile, from_rate

    fmt = _format(events, file_format)
    if profile is not None and (rate is not None or ramp is not None):
        raise UsageError("--profile gives the rate and its ramp: leave out --rate and --ramp")
    if profile is not None:
        plan = load_plan(profile, target, targets)
        chosen, allowed = plan.target, from_profile(plan)
    else:
        chosen = _target(events, target, targets)
        allowed = from_rate(chosen, rate, ramp)
    size = _batch_size(batch_size or allowed.batch_size or 100, allowed)
    files = _Files(
        events,
        dead_letter or _beside(events, ".dead-letter.ndjson"),
        checkpoint or _beside(events, ".checkpoint.json"),
        out or _beside(events, ".import.json"),
    )
    with _url_of(chosen) as url:
        tuning = (size, concurrency, max_retries)
        _run(files, fmt, chosen, url, allowed, tuning, resume=resume, quiet=quiet)


def _run(
    files: _Files,
    fmt: Literal["ndjson", "csv"],
    chosen: Target,
    url: str,
    allowed: Allowed,
    tuning: tuple[int, int, int],
    *,
    resume: bool,
    quiet: bool,
) -> None:
    from loadgen.importer import result
    from loadgen.importer.progress import choose_display
    from loadgen.importer.runner import ImportJob, run_import
    from loadgen.importer.sender import RetryPolicy
    from loadgen.importer.session import SessionSetup

    size, concurrency, max_retries = tuning
    setup = SessionSetup(
        path=files.events,
        source=str(files.events),
        fmt=fmt,
        url=url,
        verify_tls=chosen.verify_tls,
        batch_size=size,
        concurrency=concurrency,
        on_error=allowed.on_error,
        checkpoint_path=files.checkpoint,
    )
    job = ImportJob(
        setup=setup,
        choice=allowed.choice,
        credentials=chosen.credential_values(allowed.choice.api),
        curve=allowed.curve,
        cap=allowed.cap,
        resume=resume,
        dead_letter_path=files.dead_letter,
        out=files.out,
        target_name=chosen.name,
        display=choose_display(quiet),
        retry=RetryPolicy(max_retries=max_retries),
    )
    outcome = run_import(job)
    typer.echo(result.render(outcome.doc, outcome.path))
    if outcome.exit_code != ExitCode.OK:
        fail(outcome.doc.get("status_reason") or outcome.doc["status"], outcome.exit_code)


def _format(events: Path, given: str | None) -> Literal["ndjson", "csv"]:
    text = given if given is not None else ("csv" if events.suffix.lower() == ".csv" else "ndjson")
    if text == "csv":
        return "csv"
    if text == "ndjson":
        return "ndjson"
    raise UsageError(f"--format {text!r}: use ndjson or csv")


def _target(events: Path, name: str, targets: Path | None) -> Target:
    """The target, from targets.toml beside EVENTS (then ./targets.toml) or --targets."""
    source = find_targets_file(events, targets)
    searched = targets_file_candidates(events, targets)
    return resolve_target(name, load_targets(source), source, searched)


def _batch_size(size: int, allowed: Allowed) -> int:
    from loadgen.apis import RULES

    rules = RULES[allowed.choice.api]
    cap = rules.payload_limits(allowed.choice.api_version, "batch").batch_events
    if cap is not None and size > cap:
        raise UsageError(f"--batch-size {size}: {rules.title} takes at most {cap} per batch")
    if allowed.choice.api == "customerio" and allowed.choice.api_version == "v1":
        return 1  # Track v1 has no batch endpoint: one call per record
    return size


def _beside(events: Path, suffix: str) -> Path:
    return events.with_name(events.name + suffix)


@contextlib.contextmanager
def _url_of(target: Target) -> Iterator[str]:
    """The target's URL; for `local`, an embedded mock started for the import."""
    if not target.is_local:
        yield target.url
        return
    from loadgen.mock.process import LocalMock

    with LocalMock() as mock:
        yield mock.url
