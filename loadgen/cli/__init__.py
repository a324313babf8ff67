"""The `loadgen` command line (typer): flags parsed, the library called, errors mapped to
the exit codes of `loadgen.errors.ExitCode` (the README's table). The commands live by what
they do: `running` (plan, run), `guarding` (lint, brief, approve), `local` (serve, init,
version); this face only puts them in one app, in the order `--help` lists them."""

from __future__ import annotations

import typer

from loadgen.cli import (
    checking,
    comparing,
    guarding,
    importing,
    kubernetes,
    local,
    merging,
    reporting,
    running,
)
from loadgen.cli.arguments import CONTEXT_SETTINGS, HELP_MODE, load_plan

__all__ = ["app", "load_plan", "main"]

app = typer.Typer(
    name="loadgen",
    help="A k6-style load generator for event-ingestion APIs, safe by construction.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT_SETTINGS,
    rich_markup_mode=HELP_MODE,
)
app.command()(running.plan)
app.command()(running.run)
app.command(name="import")(importing.import_events)
app.command()(reporting.report)
app.command()(checking.check)
app.command()(merging.merge)
app.command()(comparing.compare)
app.command()(local.serve)
app.command()(guarding.lint)
app.command()(guarding.brief)
app.add_typer(guarding.approve_app, name="approve")
app.add_typer(kubernetes.k8s_app, name="k8s")
app.command()(local.init)
app.command()(local.version)


def main() -> None:
    app()
