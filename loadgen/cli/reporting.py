"""`loadgen report`: the end-of-run summary of saved artifacts (as `vegeta report` does),
and with `--html FILE` the self-contained HTML report (loadgen/report/html.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loadgen.cli.arguments import errors_to_exit_codes
from loadgen.errors import UsageError

if TYPE_CHECKING:
    from loadgen.report.stats import Stat

HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html", help="Also write a self-contained HTML report (charts, no network) here."
    ),
]

SummaryStatsOpt = Annotated[
    str | None,
    typer.Option(
        "--summary-stats",
        help="Latency columns of the summary, as k6's --summary-trend-stats: e.g. "
        '"avg,min,med,p(90),p(95),p(99.9),max,count" (default "med,p(90),p(95),p(99),max").',
    ),
]


def summary_stats(text: str | None) -> tuple[Stat, ...] | None:
    """The parsed --summary-stats (None: the default columns); a bad item is a usage error."""
    if text is None:
        return None
    from loadgen.report.stats import parse_stats

    return parse_stats(text)


@errors_to_exit_codes
def report(
    results: Annotated[
        list[Path], typer.Argument(help="Results artifacts (JSON) written by `loadgen run`.")
    ],
    html: HtmlOpt = None,
    stats_text: SummaryStatsOpt = None,
) -> None:
    """Print the end-of-run summary of each results artifact; --html writes the HTML report."""
    from rich.console import Console

    from loadgen.report.summary import print_summary
    from loadgen.results.artifact import read_artifact

    stats = summary_stats(stats_text)
    check_html_path(html)
    docs = [(str(path), read_artifact(path)) for path in results]  # all valid before output
    console = Console() if sys.stdout.isatty() else Console(width=160, soft_wrap=True)
    for label, doc in docs:
        if len(docs) > 1:
            console.print(f"== {label}", highlight=False, markup=False)
        print_summary(doc, label, console, stats)
    if html is not None:
        write_report(docs, html)


def check_html_path(html: Path | None) -> None:
    """A --html whose directory is missing, or that is a directory, is a usage error found
    before any work (for `run`: before the first request)."""
    if html is None:
        return
    if html.is_dir():
        raise UsageError(f"--html {html}: is a directory; give a file name such as report.html")
    if not html.parent.is_dir():
        raise UsageError(f"--html {html}: directory {html.parent} does not exist; create it")


def write_report(docs: list[tuple[str, dict[str, Any]]], html: Path) -> None:
    from loadgen.report.html import write_html

    try:
        write_html(docs, html)
    except OSError as exc:
        raise UsageError(f"--html {html}: cannot write the report: {exc.strerror or exc}") from exc
    typer.echo(f"html report: {html}")
