"""The end-of-run summary, rendered from the results artifact (the same data dashboards see)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def scenario_table(doc: dict[str, Any]) -> Table:
    table = Table(title="latency from the planned start (ms)", title_justify="left")
    for column in (
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
    ):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name, s in sorted(doc["scenarios"].items()):
        lat, st = s["latency_ms"], s["status"]
        table.add_row(
            name,
            _fmt(s["count"]),
            _fmt(s["rate"]),
            _fmt(lat["p50"]),
            _fmt(lat["p90"]),
            _fmt(lat["p95"]),
            _fmt(lat["p99"]),
            _fmt(lat["max"]),
            _fmt(st.get("2xx", 0)),
            _fmt(st.get("4xx", 0)),
            _fmt(st.get("429", 0)),
            _fmt(st.get("5xx", 0)),
            _fmt(s.get("errors", 0)),
        )
    return table


def summary_lines(doc: dict[str, Any], artifact_path: str | None) -> list[str]:
    t, g = doc["totals"], doc["generator"]
    lines = [
        f"status: {doc['status']}"
        + (f" ({doc['status_reason']})" if doc.get("status_reason") else ""),
        f"requests: planned {t['planned']:,}, sent {t['sent']:,}, completed {t['completed']:,}, "
        f"dropped {t['dropped']:,}, transport errors {t['errors']:,}, "
        f"retries {t.get('retries', 0):,}",
        f"rate: achieved {t['achieved_rps']:,.1f} req/s of {t['planned_rps']:,.1f} planned",
        "status codes: " + ", ".join(f"{k} {v:,}" for k, v in t["status"].items()),
    ]
    if t.get("errors_by_kind"):
        kinds = {k: v for k, v in t["errors_by_kind"].items() if v}
        if kinds:
            lines.append(
                "transport errors by kind: " + ", ".join(f"{k} {v:,}" for k, v in kinds.items())
            )
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
