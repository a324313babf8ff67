"""The commands that work out a run and make it: `plan` prints it, `run` sends it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from loadgen import interrupts
from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import ExecutionSegment, ExecutionSegmentError
from loadgen.cli import reporting
from loadgen.cli.arguments import (
    ProfileArg,
    TargetOpt,
    TargetsOpt,
    errors_to_exit_codes,
    fail,
    load_plan,
)
from loadgen.errors import ExitCode, GuardRefusal
from loadgen.inputs.targets import LOCAL
from loadgen.report.plan_text import render_plan

if TYPE_CHECKING:
    from loadgen.guard.rules import Verdict
    from loadgen.run.runner import RunResult

MAX_SEED = 2**64 - 1  # the artifact stores it as a JSON integer, at most 64 bits

OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Results file (default results/<profile>-<UTC>.json)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")]
GraceOpt = Annotated[
    float, typer.Option(min=0, max=600, help="Seconds to wait for requests in flight on stop.")
]
SegmentOpt = Annotated[
    str, typer.Option(help="Run only this slice of the schedule: i/n (e.g. 2/4) or a:b.")
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
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show the guard's verdict and the plan; send nothing.")
]


@errors_to_exit_codes
def plan(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Print the resolved plan: stages, peak rate, duration, totals, mix and a ramp chart."""
    resolved = load_plan(profile, target, targets)
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps(resolved.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"
        )
    else:
        typer.echo(render_plan(resolved))


@errors_to_exit_codes
def run(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    out: OutOpt = None,
    quiet: QuietOpt = False,
    grace: GraceOpt = 5.0,
    segment: SegmentOpt = "0:1",
    seed: SeedOpt = 0,
    dry_run: DryRunOpt = False,
    html: reporting.HtmlOpt = None,
    out_series: OutSeriesOpt = None,
    metrics_port: MetricsPortOpt = None,
    metrics_host: MetricsHostOpt = "127.0.0.1",
    metrics_allow_remote: MetricsRemoteOpt = False,
) -> None:
    """Run PROFILE against a target and write the JSON results artifact."""
    from loadgen.guard.findings import render
    from loadgen.guard.lint import preflight
    from loadgen.report.live import choose_mode
    from loadgen.results.output import prepare_output
    from loadgen.run.runner import RunOptions, run_profile
    from loadgen.run.streaming import StreamOptions, open_streams

    try:
        chosen = ExecutionSegment.parse(segment)
    except ExecutionSegmentError as exc:
        fail(f"usage: --segment: {exc}", ExitCode.USAGE)
    resolved = load_plan(profile, target, targets)
    verdict = preflight(resolved, now=datetime.now(UTC))
    if verdict.findings and (dry_run or not verdict.refused):  # a refusal prints itself below
        typer.echo(render(list(verdict.findings), "text", 1), err=True)
    if dry_run:
        _dry_run(resolved, verdict, out)
        return
    if verdict.refused:
        raise GuardRefusal(verdict.refusal_message())
    prepare_output(out)  # results are never lost to a bad --out: found before any request
    reporting.check_html_path(html)
    wanted = StreamOptions(out_series, metrics_port, metrics_host, metrics_allow_remote)
    with open_streams(wanted) as streams:  # a port in use or a bad path: exit 2, nothing sent
        options = RunOptions(
            out=out,
            grace_s=grace,
            display=choose_mode(quiet),
            segment=chosen,
            seed=seed,
            rate_cap=verdict.rate_cap,
            streams=streams,
        )
        _report(run_profile(resolved, options), html)


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


def _report(result: RunResult, html: Path | None = None) -> None:
    """The summary, then the exit code: 6 if the artifact is not where asked (whatever the
    run's status, which the saved artifact holds), else by the status."""
    # rich (~15-30 ms to import) only for the summary, after the run: never for `lint`,
    # `plan` or `brief`, nor before a run's first request.
    from rich.console import Console

    from loadgen.report.summary import print_summary

    console = Console() if sys.stdout.isatty() else Console(width=160, soft_wrap=True)
    print_summary(result.doc, str(result.path), console)
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
