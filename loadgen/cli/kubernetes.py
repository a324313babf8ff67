"""`loadgen k8s render`: the manifests of a fleet of pods, each running one segment of the
schedule against one shared target from a start time fixed now (docs/kubernetes.md)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from loadgen.cli.arguments import (
    ProfileArg,
    TargetsOpt,
    errors_to_exit_codes,
    load_plan,
    sub_app,
)
from loadgen.durations import DurationError, parse_duration
from loadgen.errors import UsageError
from loadgen.inputs.targets_file import find_targets_file

DEFAULT_START_IN = "2m"

k8s_app = sub_app("Run a profile as a fleet of Kubernetes pods (an Indexed Job).")


@k8s_app.command("render")
@errors_to_exit_codes
def render(
    profile: ProfileArg,
    target: Annotated[str, typer.Option("--target", "-t", help="The shared target (not `local`).")],
    parallelism: Annotated[
        int, typer.Option("--parallelism", "-n", help="Pods, each one segment (1 to 1000).")
    ],
    image: Annotated[str, typer.Option(help="The loadgen container image.")],
    targets: TargetsOpt = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace of the objects.")] = None,
    results_pvc: Annotated[
        str | None,
        typer.Option(help="PersistentVolumeClaim for the parts (default: an emptyDir, lost)."),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Secret with the credentials (default <job>-credentials).")
    ] = None,
    job_name: Annotated[
        str | None, typer.Option("--job-name", help="The Job's name (default loadgen-<profile>).")
    ] = None,
    start_in: Annotated[
        str | None,
        typer.Option(help=f"Start this long after rendering (default {DEFAULT_START_IN})."),
    ] = None,
    start_at: Annotated[
        str | None, typer.Option(help="Start at this time, e.g. 2026-12-03T10:30:00Z.")
    ] = None,
) -> None:
    """Print a fleet's ConfigMap and Indexed Job (YAML), after the guard.

    Pod i of N runs segment (i+1)/N from one start time; the guard judges the whole plan
    (exit 4 if it refuses). Runbook: docs/kubernetes.md."""
    from loadgen.guard.approvals import approval_path
    from loadgen.k8s.render import RenderOptions
    from loadgen.k8s.render import render as render_fleet

    now = datetime.now(UTC)
    options = RenderOptions(
        parallelism=parallelism,
        image=image,
        start_at=_start(now, start_in, start_at),
        now=now,
        job=job_name,
        namespace=namespace,
        results_pvc=results_pvc,
        secret=secret,
    )
    plan = load_plan(profile, target, targets)
    rendered = render_fleet(
        plan, find_targets_file(profile, targets), options, approval_path(profile)
    )
    for warning in rendered.warnings:
        typer.echo(warning, err=True)
    sys.stdout.write(rendered.yaml)


def _start(now: datetime, start_in: str | None, start_at: str | None) -> datetime:
    """The fleet's common start: `--start-at` as given, else now + `--start-in`."""
    from loadgen.k8s.render import start_time

    if start_in is not None and start_at is not None:
        raise UsageError("give --start-in or --start-at, not both")
    if start_at is None:
        try:
            lead = parse_duration(start_in or DEFAULT_START_IN)
        except DurationError as exc:
            raise UsageError(f"--start-in {start_in!r}: {exc}") from None
        return start_time(now, lead)
    try:
        moment = datetime.fromisoformat(start_at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(
            f"--start-at {start_at!r}: write an ISO 8601 time with its zone, "
            "e.g. 2026-12-03T10:30:00Z or 2026-12-03T11:30:00+01:00"
        )
    if moment <= now:
        raise UsageError(f"--start-at {start_at}: that time has passed; give a later one")
    return start_time(moment.astimezone(UTC), 0)
