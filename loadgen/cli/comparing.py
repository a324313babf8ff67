"""`loadgen compare BASELINE.json NEW.json`: the regression gate between two saved runs of
one profile (loadgen/report/compare.py; the limit grammar in loadgen/report/limits.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loadgen.cli.arguments import errors_to_exit_codes
from loadgen.errors import ExitCode

if TYPE_CHECKING:
    from loadgen.report.compare import Row

LimitOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--max-regression",
        "-m",
        help="How much worse NEW may be, repeatable: p(95)=10%, p(99)=+20ms, "
        "service_time.max=50%, p(95){scenario:track}=10%, http_429=+0.5pp, achieved_rps=-2%.",
    ),
]
AllowOpt = Annotated[
    bool,
    typer.Option(
        "--allow-different-profile",
        help="Compare runs of different profiles (name or content hash) instead of refusing.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")]


@errors_to_exit_codes
def compare(
    baseline: Annotated[
        Path, typer.Argument(help="The baseline results artifact (JSON).", metavar="BASELINE")
    ],
    new: Annotated[
        Path, typer.Argument(help="The new run's results artifact (JSON).", metavar="NEW")
    ],
    max_regression: LimitOpt = None,
    allow_different_profile: AllowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare NEW with BASELINE per scenario and metric; exit 99 if a limit is exceeded."""
    from loadgen.report.compare import (
        check_same_profile,
        compare_rows,
        regressed,
        unmatched_scenarios,
    )
    from loadgen.report.limits import parse_limits
    from loadgen.results.artifact import read_artifact

    limits = parse_limits(max_regression or [])  # a bad limit: usage error before reading
    base_doc, new_doc = read_artifact(baseline), read_artifact(new)
    warnings = [check_same_profile(base_doc, new_doc, allow_different_profile)]
    warnings += unmatched_scenarios(base_doc, new_doc)
    warnings += run_warnings("BASELINE", base_doc) + run_warnings("NEW", new_doc)
    rows = compare_rows(base_doc, new_doc, limits)
    shown = [w for w in warnings if w]
    if as_json:
        print_json(rows, str(baseline), str(new), shown)
    else:
        print_table(rows, shown)
    if regressed(rows):
        raise typer.Exit(ExitCode.THRESHOLDS_FAILED)


def run_warnings(label: str, doc: dict[str, Any]) -> list[str | None]:
    """What makes a run's figures suspect: it did not complete, or loadgen was its bottleneck."""
    warnings: list[str | None] = []
    if doc["status"] != "completed":
        reason = f" ({doc['status_reason']})" if doc.get("status_reason") else ""
        warnings.append(f"WARNING: the {label} run was {doc['status']}{reason}")
    if doc["generator"]["bottleneck"]:
        warnings.append(
            f"WARNING: the generator was the bottleneck of the {label} run, its figures "
            f"describe loadgen: {doc['generator']['reason']}"
        )
    return warnings


def print_json(rows: list[Row], baseline: str, new: str, warnings: list[str]) -> None:
    import orjson

    from loadgen.report.compare import to_json

    doc = {**to_json(rows, baseline, new), "warnings": warnings}
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def print_table(rows: list[Row], warnings: list[str]) -> None:
    from rich.console import Console

    from loadgen.report.compare import compare_table, regressed

    console = Console() if sys.stdout.isatty() else Console(width=160, soft_wrap=True)
    console.print(compare_table(rows))
    for line in warnings:
        console.print(line, highlight=False, markup=False)
    limited = [row for row in rows if row.limit is not None]
    failed = regressed(rows)
    if not limited:
        verdict = "compare: no --max-regression given, nothing to fail"
    elif failed:
        names = ", ".join(f"{row.limit.text if row.limit else ''}" for row in failed)
        verdict = f"compare: ✗ {len(failed)} of {len(limited)} limits exceeded: {names}"
    else:
        verdict = f"compare: ✓ all {len(limited)} limits held"
    console.print(verdict, highlight=False, markup=False)
