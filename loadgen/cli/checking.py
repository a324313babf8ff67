"""`loadgen check`: a saved artifact's thresholds evaluated again from its histograms and
series alone (or a profile's thresholds, e.g. tightened after the run), exiting as the run
would have: CI can gate on a file, and on a merged fleet's file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from loadgen.cli.arguments import errors_to_exit_codes

ProfileCheckOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        "-p",
        help="Evaluate this profile's thresholds instead of those the artifact recorded.",
    ),
]


@errors_to_exit_codes
def check(
    results: Annotated[Path, typer.Argument(help="A results artifact (JSON) of a run or merge.")],
    profile: ProfileCheckOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the exit code.")] = False,
) -> None:
    """Re-evaluate RESULTS' thresholds from its data and exit 0 (all passed) or 99, or as
    its run ended (130 interrupted, 5 safety stop)."""
    from loadgen.report.summary import threshold_lines
    from loadgen.results.artifact import read_artifact
    from loadgen.results.status import exit_code_of

    doc = read_artifact(results)
    doc["thresholds"] = reevaluate(doc, profile, str(results))
    if not quiet:
        lines = threshold_lines(doc["thresholds"]) or ["thresholds: none to check"]
        typer.echo("\n".join(lines))
    raise typer.Exit(exit_code_of(doc))


def reevaluate(doc: dict[str, Any], profile_path: Path | None, label: str) -> list[dict[str, Any]]:
    """The artifact's thresholds (or `profile_path`'s) evaluated again on its data; the
    threshold that aborted the run stays marked."""
    from loadgen.results.artifact import ResultsError
    from loadgen.thresholds.evaluate import aborted_by_of, evaluate, evaluate_recorded

    recorded = doc.get("thresholds", [])
    if profile_path is None:
        try:
            return evaluate_recorded(recorded, doc)
        except ValueError as exc:
            raise ResultsError(f"{label}: {exc}") from None
    from loadgen.inputs.profile import load_profile

    chosen = load_profile(profile_path)
    if chosen.content_hash != doc["profile"]["hash"]:
        typer.echo(
            f"loadgen: warning: {profile_path} is not the profile {label} was run with "
            f"({doc['profile']['name']}, hash differs): its thresholds are checked anyway",
            err=True,
        )
    return evaluate(
        chosen.thresholds,
        doc,
        aborted_by=aborted_by_of(recorded),
        fail_on_generator_bottleneck=chosen.fail_on_generator_bottleneck,
    )
