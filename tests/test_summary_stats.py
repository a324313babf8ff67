"""`--summary-stats` (k6's --summary-trend-stats syntax) on `run` and `report`, and the
summary's per-scenario peak rate and threshold outcomes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from loadgen.errors import UsageError
from loadgen.metrics import hdr
from loadgen.report.stats import parse_stats, response_histogram
from loadgen.report.summary import scenario_table, threshold_lines
from loadgen.results.artifact import write_artifact
from tests.run_support import cli, profile, write_profile
from tests.test_report_summary import synthesized

# (what the user writes, the columns it gives)
GOOD = [
    # the example, in order
    (
        "avg,min,med,p(90),p(95),p(99.9),max,count",
        ["avg", "min", "med", "p(90)", "p(95)", "p(99.9)", "max", "count"],
    ),
    # spaces after commas are fine, as in k6
    ("p(50), p(99)", ["p(50)", "p(99)"]),
    # a duplicate is shown once
    ("max,max,p(95)", ["max", "p(95)"]),
    # a percentile written with trailing zeros is the same column
    ("p(99.90)", ["p(99.9)"]),
    # the edges: p(100) is the maximum, tiny percentiles work
    ("p(100),p(0.1)", ["p(100)", "p(0.1)"]),
]


@pytest.mark.parametrize(("text", "labels"), GOOD)
def test_good_stat_lists(text: str, labels: list[str]) -> None:
    assert [stat.label for stat in parse_stats(text)] == labels


# (what the user writes, the bad item named)
BAD = [
    # k6 has no p95 spelling
    ("avg,p95", "'p95'"),
    # 0 is not a percentile
    ("p(0)", "'p(0)'"),
    # above 100
    ("p(100.5)", "'p(100.5)'"),
    # an empty item between commas
    ("avg,,max", "''"),
    # a k6 stat loadgen does not have
    ("mean", "'mean'"),
    # nothing at all
    ("", "an empty list"),
]


@pytest.mark.parametrize(("text", "named"), BAD)
def test_bad_stat_lists_name_the_item_and_the_valid_ones(text: str, named: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_stats(text)
    message = str(caught.value)
    assert f"{named} is not a statistic" in message
    assert "avg, min, med, max, count, p(N)" in message


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=5_000_000), min_size=1, max_size=100),
    st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=5),
)
def test_percentile_columns_are_the_histograms_own(values: list[int], pcts: list[float]) -> None:
    doc = synthesized({"track": values})
    h = response_histogram(doc, "track")
    assert h is not None
    stats = parse_stats(",".join(f"p({p:.2f})" for p in sorted(pcts)))
    got = [stat.of(h) for stat in stats]
    assert got == [hdr.percentile_ms(h, stat.percentile or 0) for stat in stats]
    numbers = [value for value in got if value is not None]
    assert numbers == got and numbers == sorted(numbers)  # never falls as N rises
    (count,) = parse_stats("count")
    assert count.of(h) == len(values)


def table_text(doc: dict[str, Any], stats: str | None = None) -> str:
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(scenario_table(doc, parse_stats(stats) if stats else None))
    return console.export_text()


def test_peak_per_scenario_comes_from_scenario_series_when_the_artifact_has_it() -> None:
    doc = synthesized({"track": [1_000] * 3, "identify": [1_000] * 2})
    doc.pop("scenario_series", None)  # as an artifact from before per-scenario series
    assert "│      – │" in table_text(doc)  # an older artifact: the peak is known overall only
    rows = [{"t": 0, "started": 4}, {"t": 1, "started": 9}, {"t": 2, "started": 1}]
    doc["scenario_series"] = {"track": rows, "identify": [{"t": 0, "started": 2}]}
    lines = table_text(doc).splitlines()
    (track,) = [line for line in lines if line.startswith("│ track")]
    (identify,) = [line for line in lines if line.startswith("│ identify")]
    assert track.split("│")[4].strip() == "9"
    assert identify.split("│")[4].strip() == "2"


# (threshold entry as an artifact holds it, the line the summary prints)
THRESHOLDS = [
    # the contract's entry: name as written, passed, observed
    (
        {
            "name": "latency{scenario:track}",
            "expression": "p(95)<250",
            "passed": True,
            "observed": 231.4,
        },
        "  ✓ latency{scenario:track}: p(95)<250 (observed 231.40)",
    ),
    # a failed one that stopped the run
    (
        {
            "name": "http_429",
            "expression": "rate<0.01",
            "passed": False,
            "observed": 0.2,
            "aborted_run": True,
        },
        "  ✗ http_429: rate<0.01 (observed 0.20): stopped the run",
    ),
    # no data to compare
    (
        {"name": "errors", "expression": "count<1", "passed": False, "observed": None},
        "  ✗ errors: count<1 (observed no data)",
    ),
    # an older artifact's entry: metric, ok, actual
    (
        {"metric": "http_req_duration", "expression": "p(95)<300", "ok": True, "actual": 12},
        "  ✓ http_req_duration: p(95)<300 (observed 12)",
    ),
]


@pytest.mark.parametrize(("entry", "line"), THRESHOLDS)
def test_threshold_lines(entry: dict[str, Any], line: str) -> None:
    lines = threshold_lines([entry])
    assert lines[1] == line
    passed = int(bool(entry.get("passed", entry.get("ok"))))
    assert lines[0] == f"thresholds: {passed} passed, {1 - passed} failed"


def test_report_takes_summary_stats(tmp_path: Path) -> None:
    doc = synthesized({"track": list(range(1_000, 11_000, 10))})  # 1 to 11 ms
    path = write_artifact(tmp_path / "r.json", doc)
    result = cli("report", path, "--summary-stats", "avg,p(99.99),count")
    assert result.returncode == 0, result.explain()
    (header,) = [line for line in result.stdout.splitlines() if "scenario" in line]
    assert "avg" in header and "p(99.99)" in header and "count" in header
    assert "p(90)" not in header  # only the columns asked for
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("│ track")]
    assert "1,000" in row  # the count column


def test_a_bad_summary_stats_is_a_usage_error_on_report_and_run(tmp_path: Path) -> None:
    path = write_artifact(tmp_path / "r.json", synthesized({"track": [1_000]}))
    result = cli("report", path, "--summary-stats", "avg,p95")
    assert result.returncode == 2, result.explain()
    assert "--summary-stats 'avg,p95': 'p95' is not a statistic" in result.stderr
    run_profile = write_profile(tmp_path, profile("stats"))
    out = tmp_path / "never.json"
    result = cli("run", run_profile, "--out", out, "--summary-stats", "p(101)")
    assert result.returncode == 2, result.explain()
    assert "'p(101)' is not a statistic; valid ones are" in result.stderr
    assert not out.exists()  # refused before the first request


def test_run_prints_the_chosen_columns(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("cols", stages=[("1s", 5)]))
    out = tmp_path / "cols.json"
    result = cli("run", path, "--out", out, "--quiet", "--summary-stats", "min,p(99.9),max")
    assert result.returncode == 0, result.explain()
    (header,) = [line for line in result.stdout.splitlines() if "scenario" in line]
    assert [cell.strip() for cell in header.split("┃")[5:8]] == ["min", "p(99.9)", "max"]
