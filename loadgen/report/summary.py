"""The end-of-run summary, rendered from the results artifact (the same data dashboards see).

Latency is shown for responses and for transport errors apart: a refused connection fails
in under a millisecond, and mixed into one histogram it looks like a fast answer. The
artifact's "latency" histograms hold both; "error_latency" the errors alone (responses =
latency minus error_latency). Older artifacts without it show the mixed figures.
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram
from rich.console import Console
from rich.table import Table

from loadgen.metrics import hdr

# Failures that mean nothing answered at all: the target is down or unreachable.
UNREACHABLE_KINDS = frozenset({"refused", "timeout"})
NO_RESPONSES = "no responses"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _histogram(doc: dict[str, Any], name: str) -> HdrHistogram | None:
    text = doc.get("histograms", {}).get(name)
    return None if text is None else hdr.decode(text)


def response_latency(doc: dict[str, Any], scenario: str | None = None) -> dict[str, Any]:
    """Latency stats (ms) of the attempts that got a response, overall or for `scenario`."""
    suffix = f":{scenario}" if scenario else ""
    every = _histogram(doc, f"latency{suffix}")
    errors = _histogram(doc, f"error_latency{suffix}")
    if every is None:  # an artifact without histograms: its recorded figures
        stats: dict[str, Any] = doc["scenarios"][scenario]["latency_ms"] if scenario else {}
        return stats
    return hdr.stats_ms(every if errors is None else hdr.without(every, errors))


def error_latency(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Latency stats (ms) of the transport errors over all scenarios (None if not recorded)."""
    errors = _histogram(doc, "error_latency")
    return None if errors is None else hdr.stats_ms(errors)


COLUMNS = (
    "scenario",
    "requests",
    "rate/s",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
    "2xx",
    "4xx",
    "429",
    "5xx",
    "errors",
)


def scenario_table(doc: dict[str, Any]) -> Table:
    table = Table(title="latency of responses from the planned start (ms)", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name, s in sorted(doc["scenarios"].items()):
        st = s["status"]
        table.add_row(
            name,
            _fmt(s["count"]),
            _fmt(s["rate"]),
            *_latency_cells(doc, name, s),
            _fmt(st.get("2xx", 0)),
            _fmt(st.get("4xx", 0)),
            _fmt(st.get("429", 0)),
            _fmt(st.get("5xx", 0)),
            _fmt(s.get("errors", 0)),
        )
    return table


def _latency_cells(doc: dict[str, Any], name: str, block: dict[str, Any]) -> list[str]:
    if not block.get("completed") and block.get("count"):
        return [NO_RESPONSES, "-", "-", "-", "-"]
    lat = response_latency(doc, name)
    return [_fmt(lat.get(key)) for key in ("p50", "p90", "p95", "p99", "max")]


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
    t, g = doc["totals"], doc["generator"]
    lines = [
        f"status: {doc['status']}"
        + (f" ({doc['status_reason']})" if doc.get("status_reason") else ""),
        f"requests: planned {t['planned']:,}, sent {t['sent']:,}, completed {t['completed']:,}, "
        f"dropped {t['dropped']:,}, transport errors {t['errors']:,}, "
        f"retries {t.get('retries', 0):,}",
        rate_line(doc),
        "status codes: " + ", ".join(f"{k} {v:,}" for k, v in t["status"].items()),
    ]
    if t.get("errors_by_kind"):
        kinds = {k: v for k, v in t["errors_by_kind"].items() if v}
        if kinds:
            lines.append(
                "transport errors by kind: " + ", ".join(f"{k} {v:,}" for k, v in kinds.items())
            )
    lines += latency_lines(doc)
    lag = g["lag_ms"]
    lines.append(
        f"generator: cpu {g['cpu_percent']:.0f} %, scheduler lag p50 {_fmt(lag['p50'])} / "
        f"p99 {_fmt(lag['p99'])} / max {_fmt(lag['max'])} ms"
    )
    if g.get("bottleneck"):
        lines.append(f"WARNING: the generator was the bottleneck: {g['reason']}")
    observed = doc["target"].get("observed")
    if observed and "difference" in observed:
        lines.append(f"target observed: {observed['difference']}")
    for result in doc.get("thresholds", []):
        mark = "ok  " if result.get("ok") else "FAIL"
        lines.append(
            f"threshold {mark} {result.get('metric')}: {result.get('expression')} "
            f"(actual {result.get('actual')})"
        )
    if artifact_path:
        lines.append(f"results: {artifact_path}")
    return lines


def print_summary(doc: dict[str, Any], artifact_path: str | None, console: Console) -> None:
    console.print(scenario_table(doc))
    for line in summary_lines(doc, artifact_path):
        console.print(line, highlight=False, markup=False)
