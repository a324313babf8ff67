"""The self-contained HTML report: built from the artifact alone, `loadgen report` and
`run --html` write it, and a real headless chromium renders every chart with data, logs no
console error and makes no network request (the screenshot is kept in test-artifacts/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

from loadgen.metrics import RunMetrics
from loadgen.report.html import (
    CHARTS,
    _figures,
    _in_flight,
    _thresholds_html,
    render_html,
    write_html,
)
from tests.run_support import ROOT, cli, profile, read_checked, write_profile
from tests.test_report_summary import answered, artifact, failed

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=10000",  # lets the page's scripts finish before the dump
    "--window-size=1280,4200",
)
# Chromium's own requests (update checks, accounts) have no page origin; the page's do
BROWSER_INITIATOR = "not an origin"


def sample_doc() -> dict[str, Any]:
    """A run of 6 s with answers, 429s and refusals, so every chart has something in it."""
    m = RunMetrics(["track", "identify"])
    for i in range(300):
        answered(m, i * 0.02, 2_000 + (i % 50) * 300, 429 if i % 37 == 0 else 200)
    for i in range(10):
        failed(m, 1 + i * 0.3, 900, "refused")
    doc = artifact(m, 6.0)
    doc["thresholds"] = [
        {"metric": "latency", "expression": "p(95)<250", "observed": 16.1, "passed": True},
        {"metric": "http_429", "expression": "rate<0.01", "observed": 0.03, "passed": False},
    ]
    return doc


def test_the_page_has_every_chart_the_licence_and_no_remote_reference() -> None:
    page = render_html([("run.json", sample_doc())])
    for chart_id, title, _ in CHARTS:
        assert f'id="chart-0-{chart_id}"' in page, chart_id
        assert title in page
    assert "Permission is hereby granted" in page  # plotly.js's MIT licence travels with it
    assert "plotly.js v" in page  # the library itself, not a link to it
    # the library's own text has links it would only follow on a click (its logo): the page
    # around it must load nothing remote (the browser test checks the requests themselves)
    ours = page.replace(get_plotlyjs(), "")
    assert len(ours) < len(page) / 10
    remote = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", ours, re.IGNORECASE)
    assert remote == []


# (threshold result, the mark expected)
THRESHOLD_ROWS = [
    # the field names
    ({"metric": "latency", "expression": "p(95)<250", "observed": 12, "passed": True}, "✓"),
    ({"metric": "latency", "expression": "p(95)<250", "observed": 300, "passed": False}, "✗"),
    # the names of the artifact before issue 11 (ok/actual)
    ({"metric": "errors", "expression": "count<10", "actual": 3, "ok": True}, "✓"),
    ({"metric": "errors", "expression": "count<10", "actual": 30, "ok": False}, "✗"),
]


@pytest.mark.parametrize(("result", "mark"), THRESHOLD_ROWS)
def test_each_threshold_is_marked_with_its_observed_value(
    result: dict[str, Any], mark: str
) -> None:
    text = _thresholds_html([result])
    assert mark in text
    assert ("✗" if mark == "✓" else "✓") not in text
    assert f"<td>{result.get('observed', result.get('actual'))}</td>" in text


def test_no_thresholds_says_so() -> None:
    assert "no thresholds" in _thresholds_html([])


def test_text_from_the_artifact_is_escaped() -> None:
    doc = sample_doc()
    doc["profile"]["name"] = "<script>alert(1)</script>"
    page = render_html([("run.json", doc)])
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


rows = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)), max_size=30)


@given(rows)
def test_in_flight_is_what_was_sent_and_not_yet_finished(triples: list[tuple[int, ...]]) -> None:
    series = [{"started": s, "completed": c, "errors": e} for s, c, e in triples]
    shown = _in_flight(series)
    assert len(shown) == len(series)
    assert all(v >= 0 for v in shown)
    sent = finished = 0
    for row, value in zip(series, shown, strict=True):
        sent += row["started"]
        finished += row["completed"] + row["errors"]
        if finished > sent:  # inconsistent counts (not from a real run): only never negative
            return
        assert value == sent - finished


def _traces(figure: Any) -> dict[str, list[Any]]:
    return {trace.name: list(trace.y) for trace in figure.data}


def test_the_charts_use_the_status_split_in_flight_and_service_time_of_the_series() -> None:
    doc = sample_doc()
    figures = _figures(doc)
    series = doc["series"]
    errors = _traces(figures["errors"])
    assert errors["429"] == [row["status"]["429"] for row in series]
    assert errors["transport errors"] == [row["status"]["transport"] for row in series]
    assert sum(errors["429"]) > 0 and sum(errors["transport errors"]) == 10
    latency = _traces(figures["latency"])
    assert latency["service p99"] == [row["service_p99_ms"] for row in series]
    assert any(v is not None for v in latency["service p99"])
    assert _traces(figures["inflight"])["in flight"] == [row["in_flight"] for row in series]


def test_an_older_artifact_without_the_new_series_fields_still_charts() -> None:
    doc = sample_doc()
    keep = ("t", "planned", "started", "completed", "dropped", "status_429", "errors", "p50_ms")
    doc["series"] = [{k: row[k] for k in keep} for row in doc["series"]]
    figures = _figures(doc)
    assert set(_traces(figures["errors"])) == {"429", "errors"}  # no split to show
    assert not any(name.startswith("service") for name in _traces(figures["latency"]))
    assert len(_traces(figures["inflight"])["in flight"]) == len(doc["series"])


def test_write_html_replaces_the_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    write_html([("run.json", sample_doc())], out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left
    assert out.stat().st_mode & 0o044  # readable by others, as the umask allows


def test_report_prints_the_summary_and_writes_the_html(tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(sample_doc()))
    out = tmp_path / "report.html"
    result = cli("report", saved, saved, "--html", out)
    assert result.returncode == 0, result.explain()
    assert result.stdout.count("latency of responses from the planned start") == 2
    assert "threshold" in result.stdout
    assert f"html report: {out}" in result.stdout
    assert out.read_text().count('id="chart-1-hdr"') == 1  # the second artifact's section


# (what is wrong, the exit code, what stderr says)
BAD_REPORTS = [
    # not an artifact: the input is bad (exit 3), named
    ("not-json", 3, "not a results artifact"),
    # --html into a missing directory: a usage error (exit 2) found before any output
    ("missing-dir", 2, "does not exist"),
    # --html naming a directory
    ("html-is-dir", 2, "is a directory"),
]


@pytest.mark.parametrize(("case", "code", "message"), BAD_REPORTS)
def test_bad_report_input_is_a_clear_error(
    tmp_path: Path, case: str, code: int, message: str
) -> None:
    saved = tmp_path / "run.json"
    saved.write_text("{oops" if case == "not-json" else json.dumps(sample_doc()))
    html = {"missing-dir": tmp_path / "nope" / "r.html", "html-is-dir": tmp_path}.get(
        case, tmp_path / "r.html"
    )
    result = cli("report", saved, "--html", html)
    assert result.returncode == code, result.explain()
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_run_html_writes_the_report_of_a_real_run(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("html", stages=[("2s", 20)]))
    out, html = tmp_path / "out.json", tmp_path / "run.html"
    result = cli("run", path, "--out", out, "--quiet", "--html", html)
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    page = html.read_text()
    assert doc["profile"]["hash"] in page
    assert 'id="chart-0-rate"' in page


def test_run_html_into_a_missing_directory_is_refused_before_sending(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("html", stages=[("2s", 20)]))
    out = tmp_path / "out.json"
    result = cli("run", path, "--out", out, "--quiet", "--html", tmp_path / "no" / "r.html")
    assert result.returncode == 2, result.explain()
    assert not out.exists()  # nothing ran


def chromium(page: Path, *extra: str, profile_dir: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing under CI=true: scripts/test installs it")
        pytest.skip("chromium is not installed (scripts/test installs it with apt-get)")
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for (chromium's own background requests left out)."""
    events = json.loads(net_log.read_text())["events"]
    return [
        e["params"]["url"]
        for e in events
        if "url" in e.get("params", {})
        and e["params"].get("initiator", BROWSER_INITIATOR) != BROWSER_INITIATOR
    ]


def browse(page: Path, tmp_path: Path) -> tuple[str, list[str], list[str]]:
    """(the DOM after the scripts ran, console lines, URLs the page requested)."""
    net_log = tmp_path / f"{page.stem}.netlog"
    run = chromium(
        page,
        "--enable-logging=stderr",
        "--v=0",
        f"--log-net-log={net_log}",
        "--dump-dom",
        profile_dir=tmp_path / f"{page.stem}-profile",
    )
    assert run.returncode == 0, run.stderr
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return run.stdout, console, page_requests(net_log)


def test_the_browser_check_catches_errors_and_requests(tmp_path: Path) -> None:
    # the control: a page that logs an error and fetches an image must fail the checks
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><img src="http://example.invalid/x.png">'
        '<script>console.error("boom")</script></body></html>'
    )
    _, console, requests = browse(bad, tmp_path)
    assert any('"boom"' in line for line in console), console
    assert requests == ["http://example.invalid/x.png"]


def test_a_real_browser_renders_every_chart_offline(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_html([("run.json", sample_doc())], page)
    dom, console, requests = browse(page, tmp_path)
    assert console == []
    assert requests == []
    for chart_id, _, _ in CHARTS:
        div = re.search(rf'<div id="chart-0-{chart_id}"[^>]*>', dom)
        assert div is not None, chart_id
        assert 'data-ready="yes"' in div.group(0), div.group(0)
        points = re.search(r'data-points="(\d+)"', div.group(0))
        assert points is not None
        assert int(points.group(1)) > 0
    assert dom.count('class="main-svg"') >= len(CHARTS)  # plotly drew them as SVG
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-html.png"
    run = chromium(page, f"--screenshot={shot}", profile_dir=tmp_path / "shot-profile")
    assert run.returncode == 0, run.stderr
    assert shot.stat().st_size > 10_000  # a page with charts, not a blank one
    print(f"screenshot: {shot}")
