"""The self-contained HTML report of one or more results artifacts: plotly charts with
plotly.js embedded (and its MIT licence), so the file opens with no network at all.

Every figure is drawn from the artifact alone: the per-second `series`, the HDR
`histograms`, `thresholds`, `generator` and `profile`. plotly (~0.3 s to import) is
imported inside the functions that draw, never by `lint`, `plan` or `brief`.

Each chart's div gets `data-ready="yes"` and `data-points="N"` once plotly has drawn it
(its `plotly_afterplot` event), so a headless browser's DOM shows that every chart
rendered and had data (tests/test_report_html.py).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from loadgen.metrics import hdr

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

Doc = dict[str, Any]

PLOTLY_LICENCE = """The MIT License (MIT)

Copyright (c) 2012-2026 Plotly, Inc.

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."""

# The percentiles of the HDR percentile plot: its x axis is 1 / (1 - p), on a log scale,
# so each extra nine gets the same width (the classic HdrHistogram plot).
HDR_PERCENTILES = (0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999)

# Marks each chart once plotly has drawn it; {plot_id} is filled in by plotly's to_html.
READY_SCRIPT = """
var gd = document.getElementById('{plot_id}');
function markReady() {
  var points = 0;
  (gd.data || []).forEach(function (trace) { points += (trace.x || []).length; });
  gd.setAttribute('data-points', String(points));
  gd.setAttribute('data-ready', points > 0 ? 'yes' : 'empty');
}
gd.on('plotly_afterplot', markReady);
if (gd._fullLayout) { markReady(); }
"""

# (chart id, title, caption): the order the charts appear in.
CHARTS = (
    ("rate", "Planned vs achieved rate", "Arrivals planned and attempts sent, per second."),
    (
        "latency",
        "Latency percentiles over time",
        "Latency from the planned start of the attempts finished in each second (p50, p95, "
        "p99 of the artifact's series) and, dotted, their service time from the actual send "
        "(artifacts from older versions have no per-second service time).",
    ),
    (
        "errors",
        "429 and error rates",
        "Per second: 429 responses, other 4xx, 5xx and transport errors (no response), from "
        "the series' status split.",
    ),
    (
        "inflight",
        "In flight and dropped arrivals",
        "In flight at the end of each second (attempts sent so far minus those finished), "
        "and arrivals dropped because max_in_flight requests were in flight.",
    ),
    (
        "hdr",
        "Latency distribution (HDR percentile plot)",
        "Latency from the planned start and service time over the whole run, decoded from "
        "the artifact's HDR histograms; the x axis is log scale, one step per nine.",
    ),
)


def write_html(docs: Sequence[tuple[str, Doc]], path: Path) -> None:
    """Write the report of `docs` ((label, artifact) pairs) to `path` atomically: a reader
    never sees half a page and a failed write leaves the previous file intact."""
    text = render_html(docs)
    path = Path(path)
    # a name of our own (not mkstemp, whose 0600 would hide the page from others) in the
    # same directory, so the rename is atomic
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_html(docs: Sequence[tuple[str, Doc]]) -> str:
    from plotly.offline import get_plotlyjs

    template = Template(resources.files(__package__).joinpath("html_template.html").read_text())
    names = ", ".join(doc["profile"]["name"] for _, doc in docs)
    library = get_plotlyjs()
    return template.substitute(
        title=html.escape(f"loadgen report: {names}"),
        plotly_licence=PLOTLY_LICENCE,
        plotly_version=html.escape(_bundle_version(library)),
        # a `</script>` inside the library would end the tag early: never in plotly.js,
        # but cheap to rule out
        plotly_js=library.replace("</script>", "<\\/script>"),
        sections="\n".join(_section(i, label, doc) for i, (label, doc) in enumerate(docs)),
    )


def _bundle_version(library: str) -> str:
    """plotly.js's version from its banner ("plotly.js v4.1.1"), not plotly.py's."""
    found = re.search(r"plotly\.js v([\w.]+)", library[:500])
    return found.group(1) if found else "(unknown version)"


def _section(index: int, label: str, doc: Doc) -> str:
    parts = [
        f"<section><h2>{html.escape(label)}</h2>",
        _facts_table(_profile_rows(doc)),
        _thresholds_html(doc.get("thresholds", [])),
        _verdicts_html(doc),
        _summary_html(doc),
    ]
    figures = _figures(doc)
    for chart_id, title, caption in CHARTS:
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.append(_figure_html(figures[chart_id], f"chart-{index}-{chart_id}"))
        parts.append(f'<p class="caption">{html.escape(caption)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _facts_table(rows: Sequence[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>"
        for key, value in rows
    )
    return f'<table class="facts">{cells}</table>'


def _profile_rows(doc: Doc) -> list[tuple[str, Any]]:
    profile, target = doc["profile"], doc["target"]
    return [
        ("profile", profile["name"]),
        ("profile hash", profile["hash"]),
        ("profile path", profile["path"]),
        ("target", f"{target['name']} ({target['url']})"),
        ("status", doc["status"] + (f": {doc['status_reason']}" if doc["status_reason"] else "")),
        ("started", doc["started_at"]),
        ("duration", f"{doc['duration_s']:.1f} s"),
    ]


def _thresholds_html(results: Sequence[dict[str, Any]]) -> str:
    """✓/✗ per threshold. Reads `passed`/`observed` and the older `ok`/`actual` alike."""
    if not results:
        return "<h3>Thresholds</h3><p>The profile has no thresholds.</p>"
    rows = []
    for result in results:
        passed = result.get("passed", result.get("ok"))
        observed = result.get("observed", result.get("actual"))
        mark = '<span class="pass">✓</span>' if passed else '<span class="fail">✗</span>'
        rows.append(
            f"<tr><td>{mark}</td><td>{html.escape(str(result.get('metric')))}</td>"
            f"<td>{html.escape(str(result.get('expression')))}</td>"
            f"<td>{html.escape(str(observed))}</td></tr>"
        )
    head = "<tr><th></th><th>metric</th><th>expression</th><th>observed</th></tr>"
    return f'<h3>Thresholds</h3><table class="facts">{head}{"".join(rows)}</table>'


def _verdicts_html(doc: Doc) -> str:
    """The guard's verdict (when the run recorded one) and the generator's health."""
    g = doc["generator"]
    rows: list[tuple[str, Any]] = []
    guard = doc.get("run", {}).get("guard")
    if guard is not None:
        rows.append(("guard", guard))
    rows.append(("generator bottleneck", f"yes: {g['reason']}" if g["bottleneck"] else "no"))
    rows.append(("generator cpu", f"{g['cpu_percent']:.0f} %"))
    lag = g["lag_ms"]
    lag_text = " / ".join("-" if lag[k] is None else f"{lag[k]:,.2f}" for k in LAG_KEYS)
    rows.append(("scheduler lag p50 / p99 / max (ms)", lag_text))
    return "<h3>Verdicts</h3>" + _facts_table(rows)


def _summary_html(doc: Doc) -> str:
    """The end-of-run summary exactly as the terminal shows it (one definition of it)."""
    import io

    from rich.console import Console

    from loadgen.report.summary import print_summary

    console = Console(width=160, record=True, file=io.StringIO())
    print_summary(doc, None, console)
    body = console.export_html(inline_styles=True, code_format="<pre>{code}</pre>")
    return f'<h3>Summary</h3><div class="summary">{body}</div>'


def _figure_html(figure: Figure, div_id: str) -> str:
    text: str = figure.to_html(
        full_html=False,
        include_plotlyjs=False,  # embedded once in the page's head
        div_id=div_id,
        post_script=READY_SCRIPT,
        config={"displaylogo": False, "responsive": True},
    )
    return text


def _figures(doc: Doc) -> dict[str, Figure]:
    series = doc.get("series") or []
    t = [row["t"] for row in series]

    def column(key: str) -> list[Any]:
        return [row.get(key) for row in series]

    return {
        "rate": _lines(t, {"planned": column("planned"), "achieved": column("started")}, "req/s"),
        "latency": _latency_figure(t, series),
        "errors": _lines(t, _error_traces(series), "per s"),
        "inflight": _lines(
            t, {"in flight": _in_flight(series), "dropped": column("dropped")}, "arrivals"
        ),
        "hdr": _hdr_figure(doc),
    }


def _latency_figure(t: Sequence[int], series: Sequence[dict[str, Any]]) -> Figure:
    """Latency percentiles, and service-time ones (dotted) when the series has them."""
    figure = _lines(
        t, {p: [r.get(f"{p}_ms") for r in series] for p in ("p50", "p95", "p99")}, "latency (ms)"
    )
    service = {
        f"service {p}": [r.get(f"service_{p}_ms") for r in series] for p in ("p50", "p95", "p99")
    }
    if any(v is not None for values in service.values() for v in values):
        import plotly.graph_objects as go

        for name, values in service.items():
            figure.add_trace(
                go.Scatter(x=list(t), y=values, name=name, mode="lines", line={"dash": "dot"})
            )
    return figure


def _error_traces(series: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """429s, other 4xx, 5xx and transport errors per second from the status split; older
    artifacts (no split) give 429s and errors only."""
    if series and all("status" in row for row in series):
        return {
            label: [row["status"].get(key, 0) for row in series]
            for key, label in (
                ("429", "429"),
                ("4xx", "other 4xx"),
                ("5xx", "5xx"),
                ("transport", "transport errors"),
            )
        }
    return {
        "429": [row.get("status_429") for row in series],
        "errors": [row.get("errors") for row in series],
    }


def _in_flight(series: Sequence[dict[str, Any]]) -> list[int]:
    """In flight at the end of each second: the row's own `in_flight`, or for older
    artifacts attempts sent so far minus attempts finished so far."""
    if series and all("in_flight" in row for row in series):
        return [int(row["in_flight"]) for row in series]
    out, open_now = [], 0
    for row in series:
        open_now += row["started"] - row["completed"] - row["errors"]
        out.append(max(open_now, 0))
    return out


def _lines(t: Sequence[int], traces: dict[str, list[Any]], y_title: str) -> Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, values in traces.items():
        figure.add_trace(go.Scatter(x=list(t), y=values, name=name, mode="lines+markers"))
    figure.update_layout(xaxis_title="second of the run", yaxis_title=y_title, **_LAYOUT)
    return figure


def _hdr_figure(doc: Doc) -> Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    x = [1 / (1 - p / 100) if p < 100 else None for p in HDR_PERCENTILES]
    labels = [f"{p:g} %" for p in HDR_PERCENTILES]
    for key, name in (("latency", "latency from planned start"), ("service", "service time")):
        text = doc.get("histograms", {}).get(key)
        if text is None:
            continue
        values = hdr.percentiles_us(hdr.decode(text), [max(p, 1e-9) for p in HDR_PERCENTILES])
        shown = [(xi, v / 1000) for xi, v in zip(x, values, strict=True) if v is not None]
        figure.add_trace(go.Scatter(x=[xi for xi, _ in shown], y=[v for _, v in shown], name=name))
    figure.update_xaxes(type="log", tickvals=x, ticktext=labels, title="percentile")
    figure.update_layout(yaxis_title="ms", **_LAYOUT)
    return figure


LAG_KEYS = ("p50", "p99", "max")

_LAYOUT: dict[str, Any] = {
    "height": 320,
    "margin": {"l": 60, "r": 20, "t": 20, "b": 50},
    "legend": {"orientation": "h"},
    "template": "plotly_white",
}
