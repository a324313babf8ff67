"""The end-of-run summary, rendered from the results artifact (the same data dashboards see).

Latency is shown for responses and for transport errors apart: a refused connection fails
in under a millisecond, and mixed into one histogram it looks like a fast answer. The
artifact's "latency" histograms hold both; "error_latency" the errors alone (responses =
latency minus error_latency). Older artifacts without it show the mixed figures.

Every latency column is read from the artifact's HDR histograms (`--summary-stats` picks
them, loadgen/report/stats.py), so any percentile is exact. The peak rate per scenario
comes from `scenario_series` when the artifact has it, else it is known for the run only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from loadgen.metrics import hdr
from loadgen.report.stats import (
    DEFAULT_STATS,
    Stat,
    format_value,
    histogram,
    parse_stats,
    recorded_key,
    response_histogram,
)

# Failures that mean nothing answered at all: the target is down or unreachable.
UNREACHABLE_KINDS = frozenset({"refused", "timeout"})
NO_RESPONSES = "no responses"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def response_latency(doc: dict[str, Any], scenario: str | None = None) -> dict[str, Any]:
    """Latency stats (ms) of the attempts that got a response, overall or for `scenario`."""
    h = response_histogram(doc, scenario)
    if h is None:  # an artifact without histograms: its recorded figures
        stats: dict[str, Any] = doc["scenarios"][scenario]["latency_ms"] if scenario else {}
        return stats
    return hdr.stats_ms(h)


def error_latency(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Latency stats (ms) of the transport errors over all scenarios (None if not recorded)."""
    errors = histogram(doc, "error_latency")
    return None if errors is None else hdr.stats_ms(errors)


STATUS_COLUMNS = ("2xx", "3xx", "4xx", "429", "5xx")
NO_PEAK = "–"  # an artifact without per-scenario series: the peak is known overall only


def columns(stats: Sequence[Stat]) -> list[str]:
    return [
        "scenario",
        "requests",
        "rate/s",
        "peak/s",
        *(stat.label for stat in stats),
        *STATUS_COLUMNS,
        "429 %",
        "errors",
        "dropped",
    ]


def scenario_table(doc: dict[str, Any], stats: Sequence[Stat] | None = None) -> Table:
    """One row per scenario: count, average and peak rate, the latency `stats` of its
    responses, status classes, the share of 429s, transport errors and drops."""
    chosen = tuple(stats) if stats is not None else parse_stats(DEFAULT_STATS)
    table = Table(title="latency of responses from the planned start (ms)", title_justify="left")
    for column in columns(chosen):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    peaks = scenario_peaks(doc)
    for name, s in sorted(doc["scenarios"].items()):
        st = s["status"]
        table.add_row(
            name,
            _fmt(s["count"]),
            _fmt(s["rate"]),
            _fmt(peaks[name]) if name in peaks else NO_PEAK,
            *_latency_cells(doc, name, s, chosen),
            *(_fmt(st.get(key, 0)) for key in STATUS_COLUMNS),
            _percent(st.get("429", 0), s.get("completed", 0) + s.get("errors", 0)),
            _fmt(s.get("errors", 0)),
            _fmt(s.get("dropped", 0)),
        )
    return table


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}" if whole else "-"


def _latency_cells(
    doc: dict[str, Any], name: str, block: dict[str, Any], stats: Sequence[Stat]
) -> list[str]:
    if not block.get("completed") and block.get("count"):
        return [NO_RESPONSES] + ["-"] * (len(stats) - 1)
    h = response_histogram(doc, name)
    if h is None:  # an artifact without histograms: the figures it recorded, where it has them
        recorded = block.get("latency_ms", {})
        keys = [recorded_key(stat) for stat in stats]
        return [_fmt(recorded.get(key)) if key else "-" for key in keys]
    return [format_value(stat, stat.of(h)) for stat in stats]


def scenario_peaks(doc: dict[str, Any]) -> dict[str, int]:
    """The most requests each scenario sent in one second, from `scenario_series` (empty
    for artifacts without it: their peak is known for the whole run only)."""
    per_scenario = doc.get("scenario_series") or {}
    return {
        name: max((row.get("started", 0) for row in rows), default=0)
        for name, rows in per_scenario.items()
    }


def peak_rates(doc: dict[str, Any]) -> tuple[int, int, int] | None:
    """(achieved peak, its second, planned peak): the most requests sent in one second of
    the series, and the most planned in one (None for an empty series)."""
    series = doc.get("series") or []
    if not series:
        return None
    busiest = max(series, key=lambda row: (row["started"], -row["t"]))
    return busiest["started"], busiest["t"], max(row["planned"] for row in series)


def rate_line(doc: dict[str, Any]) -> str:
    t = doc["totals"]
    line = (
        f"rate: achieved {t['achieved_rps']:,.1f} req/s of {t['planned_rps']:,.1f} planned "
        "on average"
    )
    peaks = peak_rates(doc)
    if peaks is not None:
        achieved, second, planned = peaks
        line += f"; peak {achieved:,} req/s (second {second}) of {planned:,} planned"
    return line


def latency_lines(doc: dict[str, Any]) -> list[str]:
    """Responses and transport errors apart, and a hint when nothing answered at all."""
    t = doc["totals"]
    if not t["errors"]:
        return []
    lines = []
    if t["completed"]:
        lat = response_latency(doc)
        lines.append(
            f"latency of responses: p50 {_fmt(lat.get('p50'))} / p99 {_fmt(lat.get('p99'))} "
            f"ms ({t['completed']:,} responses)"
        )
    else:
        lines.append(f"latency of responses: {NO_RESPONSES}")
    failed = error_latency(doc)
    if failed is not None:
        lines.append(
            f"time to fail of transport errors: p50 {_fmt(failed['p50'])} / p99 "
            f"{_fmt(failed['p99'])} ms ({t['errors']:,} errors)"
        )
    if not t["completed"]:
        lines.append(_no_response_hint(t))
    return lines


def _no_response_hint(totals: dict[str, Any]) -> str:
    kinds = {k: v for k, v in totals.get("errors_by_kind", {}).items() if v}
    shown = ", ".join(f"{k} {v:,}" for k, v in kinds.items())
    line = f"{NO_RESPONSES}: all {totals['errors']:,} finished requests failed ({shown})"
    if kinds and set(kinds) <= UNREACHABLE_KINDS:
        line += ": is the target up? check its URL and that it listens"
    return line


def summary_lines(doc: dict[str, Any], artifact_path: str | None) -> list[str]:
    t = doc["totals"]
    lines = [
        f"status: {doc['status']}"
        + (f" ({doc['status_reason']})" if doc.get("status_reason") else ""),
        f"requests: planned {t['planned']:,}, sent {t['sent']:,}, completed {t['completed']:,}, "
        f"dropped {t['dropped']:,}, transport errors {t['errors']:,}, "
        f"retries {t.get('retries', 0):,}",
        rate_line(doc),
        "status codes: " + ", ".join(f"{k} {v:,}" for k, v in t["status"].items()),
    ]
    kinds = {k: v for k, v in t.get("errors_by_kind", {}).items() if v}
    if kinds:
        lines.append(
            "transport errors by kind: " + ", ".join(f"{k} {v:,}" for k, v in kinds.items())
        )
    lines += latency_lines(doc)
    lines += generator_lines(doc["generator"])
    observed = doc["target"].get("observed")
    if observed and "difference" in observed:
        lines.append(f"target observed: {observed['difference']}")
    lines += threshold_lines(doc.get("thresholds", []))
    if artifact_path:
        lines.append(f"results: {artifact_path}")
    return lines


def generator_lines(g: dict[str, Any]) -> list[str]:
    """The generator's health: when it was the bottleneck, the figures describe loadgen."""
    lag = g["lag_ms"]
    health = "BOTTLENECK" if g.get("bottleneck") else "healthy"
    lines = [
        f"generator: {health}, cpu {g['cpu_percent']:.0f} %, scheduler lag p50 "
        f"{_fmt(lag['p50'])} / p99 {_fmt(lag['p99'])} / max {_fmt(lag['max'])} ms"
    ]
    if g.get("bottleneck"):
        lines.append(f"WARNING: the generator was the bottleneck: {g['reason']}")
    return lines


def threshold_lines(results: Sequence[dict[str, Any]]) -> list[str]:
    """✓/✗ per threshold with the value compared. Reads the entries of the thresholds
    contract (`name`, `passed`, `observed`) and older artifacts' `metric`, `ok`, `actual`."""
    if not results:
        return []
    failed = sum(1 for r in results if not r.get("passed", r.get("ok")))
    lines = [f"thresholds: {len(results) - failed} passed, {failed} failed"]
    for result in results:
        passed = result.get("passed", result.get("ok"))
        observed = result.get("observed", result.get("actual"))
        name = result.get("name") or result.get("metric")
        line = f"  {'✓' if passed else '✗'} {name}: {result.get('expression')} "
        line += f"(observed {'no data' if observed is None else _fmt(observed)})"
        if result.get("aborted_run"):
            line += ": stopped the run"
        lines.append(line)
    return lines


def print_summary(
    doc: dict[str, Any],
    artifact_path: str | None,
    console: Console,
    stats: Sequence[Stat] | None = None,
) -> None:
    console.print(scenario_table(doc, stats))
    for line in summary_lines(doc, artifact_path):
        console.print(line, highlight=False, markup=False)
