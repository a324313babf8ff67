"""`loadgen merge`: the parts of a fleet (workers, `--segment i/n` slices, Kubernetes pods)
into one artifact and one verdict, exiting as a single run of the whole schedule would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from loadgen.cli.arguments import errors_to_exit_codes
from loadgen.errors import ExitCode


@errors_to_exit_codes
def merge(
    parts: Annotated[
        list[Path], typer.Argument(help="The parts' results artifacts (JSON), one per slice.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the merged artifact.")],
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial", help="Merge even when slices are missing, and say which ones."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary, only the verdict.")] = (
        False
    ),
) -> None:
    """Merge the parts of one fleet losslessly and give its one verdict (exit 0 or 99, or as
    the worst part ended)."""
    from loadgen.results.artifact import read_artifact
    from loadgen.results.merge import Part, merge_fleet
    from loadgen.results.output import prepare_output, write_or_fallback

    prepare_output(out)
    merged = merge_fleet(
        [Part(str(path), read_artifact(path)) for path in parts], allow_partial=allow_partial
    )
    missing = merged["run"]["missing_segments"]
    if missing:
        shown = ", ".join(f"{a}:{b}" for a, b in missing)
        typer.echo(f"loadgen: warning: merged without segments {shown} (--allow-partial)", err=True)
    path, not_there = write_or_fallback(out, merged)
    if not quiet:
        _print_summary(merged, str(path))
    if not_there is not None:
        typer.echo(f"loadgen: {not_there}; the merged artifact is at {path}", err=True)
        raise typer.Exit(ExitCode.RESULTS_NOT_WRITTEN)
    raise typer.Exit(_exit_code(merged))


def _print_summary(doc: dict[str, Any], path: str) -> None:
    from rich.console import Console

    from loadgen.report.summary import print_summary

    console = Console() if sys.stdout.isatty() else Console(width=160, soft_wrap=True)
    print_summary(doc, path, console)


def _exit_code(doc: dict[str, Any]) -> ExitCode:
    from loadgen.results.status import exit_code_of

    return exit_code_of(doc)
