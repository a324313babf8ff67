"""The commands that work out a run and make it: `plan` prints it, `run` sends it."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from loadgen import interrupts
from loadgen.arrivals.plan import Plan
from loadgen.cli import reporting
from loadgen.cli.arguments import (
    ProfileArg,
    TargetOpt,
    TargetsOpt,
    errors_to_exit_codes,
    fail,
    load_plan,
)
from loadgen.cli.startat import (
    SegmentOpt,
    StartAtOpt,
    read_segment,
    read_start_at,
    slice_facts,
    slice_text,
)
from loadgen.errors import ExitCode, GuardRefusal
from loadgen.inputs.targets import LOCAL
from loadgen.report.plan_text import render_plan

if TYPE_CHECKING:
    from loadgen.arrivals.schedule import ExecutionSegment
    from loadgen.guard.rules import Verdict
    from loadgen.report.stats import Stat
    from loadgen.run.options import RunOptions, RunResult
    from loadgen.run.streaming import StreamOptions

MAX_SEED = 2**64 - 1  # the artifact stores it as a JSON integer, at most 64 bits

OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Results file (default results/<profile>-<UTC>.json)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")]
GraceOpt = Annotated[
    float, typer.Option(min=0, max=600, help="Seconds to wait for requests in flight on stop.")
]
SeedOpt = Annotated[
    int,
    typer.Option(
        min=0, max=MAX_SEED, help="Seed of the user population and payloads, 0 to 2^64-1."
    ),
]
OutSeriesOpt = Annotated[
    Path | None,
    typer.Option(
        "--out-series",
        help="Also write the per-second series here while the run goes on: NDJSON, or CSV "
        "when it ends in .csv (docs/dashboards.md).",
    ),
]
MetricsPortOpt = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=65535,
        help="Serve live Prometheus metrics on this port (0: any free port); they stay up "
        "2 s after the run.",
    ),
]
MetricsHostOpt = Annotated[
    str, typer.Option(help="Address for --metrics-port (loopback unless --metrics-allow-remote).")
]
MetricsRemoteOpt = Annotated[
    bool,
    typer.Option(
        "--metrics-allow-remote",
        help="Let --metrics-host be a non-loopback address (open to the network).",
    ),
]
NoThresholdsExitOpt = Annotated[
    bool,
    typer.Option(
        "--no-thresholds-exit",
        help="Record the thresholds but do not exit 99 when they fail: for one slice of a "
        "fleet, whose verdict `loadgen merge` gives.",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show the guard's verdict and the plan; send nothing.")
]
WorkersOpt = Annotated[
    str,
    typer.Option(
        help="Processes on this machine, each an exact segment i/N of the schedule, merged "
        "into one artifact: N (1-64) or auto (one per core)."
    ),
]
# What a `--workers` parent tells each worker (loadgen/run/workers.py): not for users.
WorkerProgressFdOpt = Annotated[int | None, typer.Option(hidden=True, min=1)]
WorkerRateCapOpt = Annotated[float | None, typer.Option(hidden=True, min=0.001)]
WorkerUrlOpt = Annotated[str | None, typer.Option(hidden=True)]


@errors_to_exit_codes
def plan(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    segment: SegmentOpt = "0:1",
) -> None:
    """Print the resolved plan: stages, peak rate, duration, totals, mix and a ramp chart."""
    chosen = read_segment(segment)
    resolved = load_plan(profile, target, targets)
    if as_json:
        doc = resolved.to_dict()
        if not chosen.is_full:
            doc["slice"] = slice_facts(resolved, chosen, segment)
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        typer.echo(render_plan(resolved))
        if not chosen.is_full:
            typer.echo(slice_text(resolved, chosen, segment))


@errors_to_exit_codes
def run(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    out: OutOpt = None,
    quiet: QuietOpt = False,
    grace: GraceOpt = 5.0,
    segment: SegmentOpt = "0:1",
    start_at: StartAtOpt = None,
    seed: SeedOpt = 0,
    dry_run: DryRunOpt = False,
    html: reporting.HtmlOpt = None,
    stats_text: reporting.SummaryStatsOpt = None,
    workers: WorkersOpt = "1",
    worker_progress_fd: WorkerProgressFdOpt = None,
    worker_rate_cap: WorkerRateCapOpt = None,
    worker_url: WorkerUrlOpt = None,
    out_series: OutSeriesOpt = None,
    metrics_port: MetricsPortOpt = None,
    metrics_host: MetricsHostOpt = "127.0.0.1",
    metrics_allow_remote: MetricsRemoteOpt = False,
    no_thresholds_exit: NoThresholdsExitOpt = False,
) -> None:
    """Run PROFILE against a target and write the JSON results artifact."""
    from loadgen.report.live import choose_mode
    from loadgen.run.options import RunOptions
    from loadgen.run.streaming import StreamOptions, open_streams

    stats = reporting.summary_stats(stats_text)  # a usage error before anything else
    chosen = read_segment(segment)
    agreed = read_start_at(start_at)
    count = _worker_count(workers, chosen)
    _check_worker_url(worker_url, target)
    if worker_progress_fd is not None:  # a worker: its parent may forward signals from now
        _worker_ready(worker_progress_fd)
    resolved = load_plan(profile, target, targets)
    verdict = _checked_before_sending(resolved, chosen, segment, dry_run, out, html)
    if verdict is None:  # a dry run: done
        return
    wanted = _streams(
        count, StreamOptions(out_series, metrics_port, metrics_host, metrics_allow_remote)
    )
    options = RunOptions(
        out=out,
        grace_s=grace,
        display=choose_mode(quiet),
        segment=chosen,
        seed=seed,
        rate_cap=_rate_cap(verdict.rate_cap, worker_rate_cap),
        start_at=agreed,
        segment_text=segment.strip(),
        local_url=worker_url,
        progress_fd=worker_progress_fd,
        thresholds_exit=not no_thresholds_exit,
    )
    with open_streams(wanted) as streams:  # a port in use or a bad path: exit 2, nothing sent
        launched = dataclasses.replace(options, streams=streams)
        _launch(resolved, launched, (count, target, targets), html, stats)


def _streams(count: int, wanted: StreamOptions) -> StreamOptions:
    if count > 1 and wanted.wanted:
        fail(
            "usage: --out-series and --metrics-port follow one process; with --workers, "
            "read the merged artifact's series instead (loadgen report, docs/dashboards.md)",
            ExitCode.USAGE,
        )
    return wanted


def _launch(
    resolved: Plan,
    options: RunOptions,
    workers: tuple[int, str, Path | None],
    html: Path | None,
    stats: tuple[Stat, ...] | None,
) -> None:
    """One process, or `workers` (count, `--target` and `--targets` as given, for their
    command lines) each running its segment, then the one summary."""
    count, target, targets = workers
    if count == 1:
        _run_one(resolved, options, html, stats)
        return
    from loadgen.run.workers import WorkersJob, run_workers

    job = WorkersJob(resolved, options, count, target, targets)
    _report(run_workers(job), html, stats)


def _checked_before_sending(
    resolved: Plan,
    chosen: ExecutionSegment,
    segment: str,
    dry_run: bool,
    out: Path | None,
    html: Path | None,
) -> Verdict | None:
    """The guard's verdict, once everything a run needs has been checked (a refusal raises);
    None after a dry run, which prints the verdict and the plan instead."""
    from loadgen.guard.findings import render
    from loadgen.guard.lint import preflight
    from loadgen.results.output import prepare_output

    verdict = preflight(resolved, now=datetime.now(UTC))
    if verdict.findings and (dry_run or not verdict.refused):  # a refusal prints itself below
        typer.echo(render(list(verdict.findings), "text", 1), err=True)
    if dry_run:
        _dry_run(resolved, verdict, out)
        if not chosen.is_full:
            typer.echo(slice_text(resolved, chosen, segment))
        return None
    if verdict.refused:
        raise GuardRefusal(verdict.refusal_message())
    prepare_output(out)  # results are never lost to a bad --out: found before any request
    reporting.check_html_path(html)
    return verdict


def _run_one(
    resolved: Plan, options: RunOptions, html: Path | None, stats: tuple[Stat, ...] | None
) -> None:
    """The single-process run; a worker's ends telling its parent where its part is."""
    from loadgen.run.runner import run_profile

    result = run_profile(resolved, options)
    if options.progress_fd is not None:  # a worker: the parent reports, from the merged parts
        _worker_done(options.progress_fd, result)
    _report(result, html, stats)


def _worker_count(text: str, segment: ExecutionSegment) -> int:
    """`--workers` as a count (1 = the single-process run); usage errors exit 2."""
    if text.strip() == "1":  # the default: nothing of the workers' machinery is imported
        return 1
    from loadgen.run.workers import WorkersError, parse_workers

    try:
        count, warning = parse_workers(text)
    except WorkersError as exc:
        fail(f"usage: {exc}", ExitCode.USAGE)
    if count > 1 and not segment.is_full:
        fail(
            f"usage: --segment {segment} and --workers {text}: each worker takes its own "
            "segment i/N of the schedule; give one of the two",
            ExitCode.USAGE,
        )
    if warning:
        typer.echo(warning, err=True)
    return count


def _rate_cap(approved: float | None, worker_share: float | None) -> float | None:
    """A worker's share of the cap, never above what the guard allows this process."""
    if worker_share is None:
        return approved
    return worker_share if approved is None else min(worker_share, approved)


def _check_worker_url(url: str | None, target: str) -> None:
    """The hidden URL only ever names the parent's embedded mock, on loopback: never a way
    to send a `local` run (no approval needed) anywhere else."""
    if url is None:
        return
    from urllib.parse import urlsplit

    from loadgen.mock.process import LOOPBACK

    if target != LOCAL or urlsplit(url).hostname not in LOOPBACK:
        fail("usage: --worker-url is the parent's embedded mock (loopback, local)", ExitCode.USAGE)


def _worker_ready(fd: int) -> None:
    from loadgen.run.worker_progress import send

    send(fd, ready=True)


def _worker_done(fd: int, result: RunResult) -> None:
    """Tell the parent where the part is, and exit by its status (no summary: the parent
    prints the merged one)."""
    from loadgen.run.worker_progress import send

    send(fd, artifact=str(result.path))
    raise typer.Exit(result.exit_code)


def _dry_run(resolved: Plan, verdict: Verdict, out: Path | None) -> None:
    """Everything a run checks before its first request, and the plan; nothing sent."""
    from loadgen.errors import ProfileError
    from loadgen.results.output import prepare_output
    from loadgen.scenarios.replay import check_replay_files

    if replay_problems := check_replay_files(resolved.profile):  # the run would fail on them
        raise ProfileError(replay_problems)
    typer.echo(render_plan(resolved))
    typer.echo(
        f"guard: {'REFUSED' if verdict.refused else 'ok'}; approval: {verdict.approval_status}"
    )
    if verdict.refused:
        raise GuardRefusal(verdict.refusal_message())
    if out is not None:  # it would fail before the first request: say so now
        prepare_output(out)
    if interrupts.pending():
        fail("interrupted", ExitCode.INTERRUPTED)


def _report(
    result: RunResult, html: Path | None = None, stats: tuple[Stat, ...] | None = None
) -> None:
    """The summary, then the exit code: 6 if the artifact is not where asked (whatever the
    run's status, which the saved artifact holds), else by the status."""
    # rich (~15-30 ms to import) only for the summary, after the run: never for `lint`,
    # `plan` or `brief`, nor before a run's first request.
    from rich.console import Console

    from loadgen.report.summary import print_summary

    console = Console() if sys.stdout.isatty() else Console(width=160, soft_wrap=True)
    print_summary(result.doc, str(result.path), console, stats)
    if html is not None:  # whatever the status: an aborted run is the one to look at
        reporting.write_report([(str(result.path), result.doc)], html)
    reason = result.doc.get("status_reason")
    if result.not_there_because:
        fail(
            f"results not written to {result.requested} ({result.not_there_because}); "
            f"saved to {result.path} instead",
            ExitCode.RESULTS_NOT_WRITTEN,
        )
    if result.exit_code == ExitCode.SAFETY_STOP:
        fail(f"safety stop: {reason}", ExitCode.SAFETY_STOP)
    if result.exit_code == ExitCode.INTERRUPTED:
        fail(f"{reason}; results written to {result.path}", ExitCode.INTERRUPTED)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
