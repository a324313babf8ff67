"""The guard's commands: `lint` (for CI and pre-commit), `brief`, and `approve keygen|sign`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from loadgen.cli.arguments import (
    ProfileArg,
    TargetOpt,
    TargetsOpt,
    errors_to_exit_codes,
    fail,
    load_plan,
    sub_app,
)
from loadgen.errors import ExitCode
from loadgen.inputs.targets import LOCAL


@errors_to_exit_codes
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


@errors_to_exit_codes
def brief(
    profile: Annotated[
        Path | None,
        typer.Argument(
            help="The profile TOML file (not with --import).",
            dir_okay=False,
            show_default=False,
            metavar="[PROFILE]",
        ),
    ] = None,
    target: TargetOpt = LOCAL,
    targets: TargetsOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the Markdown here.")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--import", help="Brief a historical import from this NDJSON/CSV file instead."
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="ndjson | csv (default: by extension).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Records per batch (--import; default 100).")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Requests/s for --import (default: the workspace limit)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of Markdown.")] = False,
) -> None:
    """Write the heads-up the pipeline team asks for before a load test or an import."""
    from loadgen.guard.brief import render_brief
    from loadgen.guard.lint import preflight

    if events is not None or profile is None:
        from loadgen.guard.import_brief import brief_text

        if profile is not None or events is None:
            fail("usage: give a PROFILE or --import EVENTS (one of them)", ExitCode.USAGE)
        _write(
            out,
            brief_text(
                events,
                target,
                targets,
                fmt,
                100 if batch_size is None else batch_size,
                rate,
                as_json,
            ),
        )
        return
    if fmt is not None or batch_size is not None or rate is not None or as_json:
        fail("usage: --format, --batch-size, --rate and --json go with --import", ExitCode.USAGE)
    resolved = load_plan(profile, target, targets)
    text = render_brief(resolved, preflight(resolved, now=datetime.now(UTC)))
    _write(out, text)


def _write(out: Path | None, text: str) -> None:
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"brief written to {out}", err=True)


approve_app = sub_app("Sign and manage the pipeline team's approvals.")


@approve_app.command("keygen")
@errors_to_exit_codes
def approve_keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the private key (PEM).")],
) -> None:
    """Make an Ed25519 key pair: the private key to a file (mode 600), the public key printed."""
    from loadgen.guard.approvals import key_id, keygen

    if out.exists():
        fail(f"usage: {out} exists; refusing to overwrite a key", ExitCode.USAGE)
    private_pem, public_b64 = keygen()
    out.touch(mode=0o600)
    out.write_bytes(private_pem)
    typer.echo(f"private key written to {out} (keep it with the pipeline team)", err=True)
    typer.echo(f"public key (add to the target's trusted_keys), id {key_id(public_b64)}:", err=True)
    typer.echo(public_b64)


@approve_app.command("sign")
@errors_to_exit_codes
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

    resolved = load_plan(profile, target, targets)
    now = datetime.now(UTC)
    refuse_unapprovable(resolved, now=now)
    try:
        pem = read_input(key, "private key").encode()  # bounded: --key /dev/zero cannot grow
        approval = sign(resolved, max_rps, parse_expiry(expires), by, pem, now=now)
    except UnreadableInput as exc:
        fail(f"usage: --key {key}: {exc.message}", ExitCode.USAGE)
    except ValueError as exc:
        fail(f"usage: {exc}", ExitCode.USAGE)
    path = out or approval_path(resolved.profile.path)
    write_approval(approval, path)
    until = expiry_text(approval.expires)
    typer.echo(f"approval written to {path}: key {approval.key_id}, valid until {until}", err=True)
    public = public_key_b64(load_private_key(pem).public_key())
    if warning := trust_warning(approval, resolved, public, now=now):
        typer.echo(f"loadgen: warning: {warning}", err=True)
