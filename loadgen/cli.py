"""The `loadgen` command line (typer). Parses flags, calls the library, maps errors to exit codes.

Exit codes (the public contract, also in the README):
0 ok · 1 lint found problems · 2 usage error · 3 invalid profile/targets ·
4 refused by the guard · 5 safety stop · 6 results not written where asked (saved to the
fallback path printed) · 99 thresholds failed · 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console

from loadgen import __version__, interrupts
from loadgen.arrivals.plan import Plan, render_plan
from loadgen.arrivals.schedule import Segment, SegmentError
from loadgen.errors import (
    GuardRefusal,
    InvalidInputError,
    LoadgenError,
    ResultsNotWritten,
    SafetyStop,
    UsageError,
)
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import (
    LOCAL,
    Target,
    find_targets_file,
    load_targets,
    resolve_target,
    targets_file_candidates,
)

if TYPE_CHECKING:
    from loadgen.run.runner import RunResult

EXIT_OK, EXIT_LINT, EXIT_USAGE, EXIT_INVALID, EXIT_REFUSED, EXIT_SAFETY = 0, 1, 2, 3, 4, 5
EXIT_NOT_WRITTEN, EXIT_THRESHOLDS, EXIT_INTERRUPTED = 6, 99, 130
MAX_SEED = 2**64 - 1  # the artifact stores it as a JSON integer, at most 64 bits

# `-h` as well as `--help`, on every command (subcommands inherit the context settings).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
# Plain click-style help: typer's rich panels label every flag (even --help) `<bool>`, as
# if it took a value; the plain layout shows flags as flags and `--x / --no-x` pairs.
HELP_MODE = None

app = typer.Typer(
    name="loadgen",
    help="A k6-style load generator for event-ingestion APIs, safe by construction.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT_SETTINGS,
    rich_markup_mode=HELP_MODE,
)

P = ParamSpec("P")
R = TypeVar("R")

ProfileArg = Annotated[
    Path,
    typer.Argument(
        help="The profile TOML file.", dir_okay=False, show_default=False, metavar="PROFILE"
    ),
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target", "-t", help="A target named in targets.toml; `local` is the embedded mock."
    ),
]
TargetsOpt = Annotated[
    Path | None,
    typer.Option(
        "--targets", help="The targets file (default: beside the profile, then ./targets.toml)."
    ),
]


def _errors_to_exit_codes(func: Callable[P, R]) -> Callable[P, R]:
    """Turn loadgen's exceptions into a message on stderr and the documented exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InvalidInputError as exc:
            _fail(str(exc), EXIT_INVALID)
        except GuardRefusal as exc:
            _fail(f"refused: {exc}", EXIT_REFUSED)
        except SafetyStop as exc:
            _fail(f"safety stop: {exc}", EXIT_SAFETY)
        except UsageError as exc:
            _fail(f"usage: {exc}", EXIT_USAGE)
        except ResultsNotWritten as exc:
            _fail(str(exc), EXIT_NOT_WRITTEN)
        except LoadgenError as exc:
            _fail(str(exc), EXIT_INVALID)
        except KeyboardInterrupt:  # typer would say "Aborted!" and exit 1
            _fail("interrupted", EXIT_INTERRUPTED)

    return wrapper


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"loadgen: {message}", err=True)
    raise typer.Exit(code)


def load_inputs(
    profile_path: Path, target_name: str, targets_path: Path | None
) -> tuple[Profile, Target]:
    """Read the profile and its target, collecting the problems of both before failing."""
    problems = []
    profile: Profile | None = None
    target: Target | None = None
    try:
        profile = load_profile(profile_path)
    except InvalidInputError as exc:
        problems += exc.problems
    try:
        source = find_targets_file(profile_path, targets_path)
        searched = targets_file_candidates(profile_path, targets_path)
        target = resolve_target(target_name, load_targets(source), source, searched)
    except InvalidInputError as exc:
        problems += exc.problems
    if problems or profile is None or target is None:
        raise InvalidInputError(problems)
    return profile, target


@app.command()
@_errors_to_exit_codes
def plan(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Print the resolved plan: stages, peak rate, duration, totals, mix and a ramp chart."""
    prof, tgt = load_inputs(profile, target, targets)
    resolved = Plan.build(prof, tgt)
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps(resolved.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"
        )
    else:
        typer.echo(render_plan(resolved))


@app.command()
@_errors_to_exit_codes
def run(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Results file (default results/<profile>-<UTC>.json)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")] = False,
    grace: Annotated[
        float, typer.Option(min=0, max=600, help="Seconds to wait for requests in flight on stop.")
    ] = 5.0,
    segment: Annotated[
        str, typer.Option(help="Run only this slice of the schedule: i/n (e.g. 2/4) or a:b.")
    ] = "0:1",
    seed: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_SEED, help="Seed of the user population and payloads, 0 to 2^64-1."
        ),
    ] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the guard's verdict and the plan; send nothing.")
    ] = False,
) -> None:
    """Run PROFILE against a target and write the JSON results artifact."""
    from loadgen.guard.findings import render
    from loadgen.guard.lint import preflight
    from loadgen.report.live import choose_mode
    from loadgen.results.output import prepare_output
    from loadgen.run.runner import RunOptions, run_profile

    try:
        chosen = Segment.parse(segment)
    except SegmentError as exc:
        _fail(f"usage: --segment: {exc}", EXIT_USAGE)
    prof, tgt = load_inputs(profile, target, targets)
    verdict = preflight(prof, tgt, now=datetime.now(UTC))
    if verdict.findings and (dry_run or not verdict.refused):  # a refusal prints itself below
        typer.echo(render(list(verdict.findings), "text", 1), err=True)
    if dry_run:
        from loadgen.errors import ProfileError
        from loadgen.scenarios.replay import check_replay_files

        if replay_problems := check_replay_files(prof):  # the run would fail on opening them
            raise ProfileError(replay_problems)
        typer.echo(render_plan(Plan.build(prof, tgt)))
        typer.echo(
            f"guard: {'REFUSED' if verdict.refused else 'ok'}; approval: {verdict.approval_status}"
        )
    if verdict.refused:
        raise GuardRefusal(verdict.refusal_message())
    if dry_run:
        if out is not None:  # it would fail before the first request: say so now
            prepare_output(out)
        if interrupts.pending():
            _fail("interrupted", EXIT_INTERRUPTED)
        return
    prepare_output(out)  # results are never lost to a bad --out: found before any request
    # Retries included, the rate never exceeds the approved peak, or without an approval the
    # workspace limit (the guard has checked the plan stays under it). A cap equal to the
    # planned rate would queue first attempts behind every hiccup, so it is never the plan.
    cap = verdict.approved_peak or tgt.limits.workspace_rps_limit
    options = RunOptions(
        out=out, grace_s=grace, display=choose_mode(quiet), segment=chosen, seed=seed, rate_cap=cap
    )
    _report(run_profile(prof, tgt, options))


def _report(result: RunResult) -> None:
    """The summary, then the exit code: 6 if the artifact is not where asked (whatever the
    run's status, which the saved artifact holds), else by the status."""
    from loadgen.report.summary import print_summary

    console = Console() if sys.stdout.isatty() else Console(width=160, soft_wrap=True)
    print_summary(result.doc, str(result.path), console)
    reason = result.doc.get("status_reason")
    if result.not_there_because:
        _fail(
            f"results not written to {result.requested} ({result.not_there_because}); "
            f"saved to {result.path} instead",
            EXIT_NOT_WRITTEN,
        )
    if result.exit_code == EXIT_SAFETY:
        _fail(f"safety stop: {reason}", EXIT_SAFETY)
    if result.exit_code == EXIT_INTERRUPTED:
        _fail(f"{reason}; results written to {result.path}", EXIT_INTERRUPTED)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8000,
    rps_limit: Annotated[
        float, typer.Option(help="Requests/s per workspace before 429s; 0 = off.")
    ] = 100.0,
    latency: Annotated[
        str | None,
        typer.Option(
            help="Added latency: fixed:5ms, uniform:1ms-10ms, normal:20ms,5ms, "
            "lognormal:10ms,100ms, exponential:10ms."
        ),
    ] = None,
    error_rate: Annotated[float, typer.Option(help="Probability of answering 503.")] = 0.0,
    stall: Annotated[
        str | None,
        typer.Option(help="EVERY:FOR, e.g. 10s:2s: hold every request for 2 s every 10 s."),
    ] = None,
    reset_rate: Annotated[
        float, typer.Option(help="Probability of resetting the connection instead of answering.")
    ] = 0.0,
    accept_key: Annotated[
        list[str] | None,
        typer.Option(help="Accept only these tokens / site_id:api_key / write keys (repeatable)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for the fault injection, for reproducible runs.")
    ] = None,
) -> None:
    """Run the embedded mock ingestion API (PostHog, Customer.io, Segment) until Ctrl-C."""
    from loadgen.mock import config as mc
    from loadgen.mock.runner import run as run_mock

    try:
        config = mc.MockConfig(
            host=mc.parse_host(host),
            port=mc.parse_port(port),
            rps_limit=mc.parse_rps_limit(rps_limit),
            latency=mc.parse_latency(latency) if latency else None,
            error_rate=mc.parse_error_rate(error_rate),
            stall=mc.parse_stall(stall) if stall else None,
            reset_rate=mc.parse_reset_rate(reset_rate),
            accepted_keys=mc.parse_accepted_keys(accept_key or []),
            seed=mc.parse_seed(seed) if seed is not None else None,
        )
    except ValueError as exc:
        _fail(f"usage: {exc}", EXIT_USAGE)

    def ready(url: str) -> None:
        typer.echo(
            f"loadgen mock ingestion API listening on {url} (stats: {url}/_loadgen/stats)", err=True
        )

    try:
        run_mock(config, ready=ready)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_USAGE)


@app.command()
@_errors_to_exit_codes
def lint(
    profiles: Annotated[
        list[Path],
        typer.Argument(help="Profile files to check.", dir_okay=False, metavar="PROFILE"),
    ],
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json | github")] = "text",
    strict: Annotated[bool, typer.Option(help="Warnings fail too.")] = False,
) -> None:
    """Check profiles against a target's guard without sending anything (for CI)."""
    from loadgen.guard.lint import lint as run_lint

    output, code = run_lint(
        profiles, target, targets, strict=strict, fmt=fmt, now=datetime.now(UTC)
    )
    typer.echo(output)
    raise typer.Exit(code)


@app.command()
@_errors_to_exit_codes
def brief(
    profile: ProfileArg,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the Markdown here.")
    ] = None,
) -> None:
    """Write the heads-up the pipeline team asks for before a load test or an import."""
    from loadgen.guard.brief import render_brief
    from loadgen.guard.lint import preflight

    prof, tgt = load_inputs(profile, target, targets)
    verdict = preflight(prof, tgt, now=datetime.now(UTC))
    text = render_brief(prof, tgt, verdict, Plan.build(prof, tgt))
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"brief written to {out}", err=True)


approve_app = typer.Typer(
    help="Sign and manage the pipeline team's approvals.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
    rich_markup_mode=HELP_MODE,
)
app.add_typer(approve_app, name="approve")


@approve_app.command("keygen")
@_errors_to_exit_codes
def approve_keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the private key (PEM).")],
) -> None:
    """Make an Ed25519 key pair: the private key to a file (mode 600), the public key printed."""
    from loadgen.guard.approvals import key_id, keygen

    if out.exists():
        _fail(f"usage: {out} exists; refusing to overwrite a key", EXIT_USAGE)
    private_pem, public_b64 = keygen()
    out.touch(mode=0o600)
    out.write_bytes(private_pem)
    typer.echo(f"private key written to {out} (keep it with the pipeline team)", err=True)
    typer.echo(f"public key (add to the target's trusted_keys), id {key_id(public_b64)}:", err=True)
    typer.echo(public_b64)


@approve_app.command("sign")
@_errors_to_exit_codes
def approve_sign(
    profile: ProfileArg,
    target: Annotated[str, typer.Option("--target", "-t", help="The target it is approved for.")],
    max_rps: Annotated[float, typer.Option(help="The highest peak approved, requests/s.")],
    expires: Annotated[
        str,
        typer.Option(
            help="2026-12-31 (valid through the end of that day, UTC) or 2026-12-31T18:00:00+01:00."
        ),
    ],
    by: Annotated[str, typer.Option(help="Who approves (name or team).")],
    key: Annotated[Path, typer.Option(help="The approver's private key (PEM).", dir_okay=False)],
    targets: TargetsOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Default: <profile>.approval.json beside it.")
    ] = None,
) -> None:
    """Sign an approval bound to the profile's content, the target (name, URL, environment),
    the peak and an expiry. Refuses (exit 4) a profile the guard refuses whatever the approval."""
    from loadgen.guard.approvals import (
        approval_path,
        load_private_key,
        public_key_b64,
        sign,
        write_approval,
    )
    from loadgen.guard.expiry import expiry_text, parse_expiry
    from loadgen.guard.signing import refuse_unapprovable, trust_warning
    from loadgen.inputs.files import UnreadableInput, read_input

    prof, tgt = load_inputs(profile, target, targets)
    now = datetime.now(UTC)
    refuse_unapprovable(prof, tgt, now=now)
    try:
        pem = read_input(key, "private key").encode()  # bounded: --key /dev/zero cannot grow
        approval = sign(prof, tgt, max_rps, parse_expiry(expires), by, pem, now=now)
    except UnreadableInput as exc:
        _fail(f"usage: --key {key}: {exc.message}", EXIT_USAGE)
    except ValueError as exc:
        _fail(f"usage: {exc}", EXIT_USAGE)
    path = out or approval_path(prof.path)
    write_approval(approval, path)
    until = expiry_text(approval.expires)
    typer.echo(f"approval written to {path}: key {approval.key_id}, valid until {until}", err=True)
    public = public_key_b64(load_private_key(pem).public_key())
    if warning := trust_warning(approval, prof, tgt, public, now=now):
        typer.echo(f"loadgen: warning: {warning}", err=True)


@app.command()
@_errors_to_exit_codes
def init(
    api: Annotated[str, typer.Option(help="posthog | customerio | segment")] = "posthog",
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the files.", file_okay=False)
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter profile and a targets.toml (staging, production) for one API."""
    from loadgen.inputs.starter import PROFILE_FILE, write_starter

    written = write_starter(api, directory, force=force)
    for path in written:
        typer.echo(f"wrote {path}", err=True)
    profile = directory / PROFILE_FILE
    typer.echo(f"next: loadgen plan {profile}; loadgen run {profile}", err=True)


@app.command()
def version() -> None:
    """Print loadgen's version."""
    typer.echo(__version__)


def main() -> None:
    app()
