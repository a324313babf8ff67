"""The end-of-run summary: latency of responses and of transport errors apart, "no
responses" and a hint when nothing answered, and the peak rate per second."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from loadgen.metrics import RunMetrics, hdr
from loadgen.report.summary import (
    latency_lines,
    peak_rates,
    response_latency,
    scenario_table,
    summary_lines,
)
from loadgen.results import artifact as results
from tests.run_support import (
    cli,
    profile,
    read_checked,
    refusing_port,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def artifact(
    m: RunMetrics, duration_s: float = 3.0, profile_name: str = "t", profile_hash: str = "sha256:0"
) -> dict[str, Any]:
    """A valid artifact (it passes validate_artifact) of what `m` recorded."""
    doc = results.build_artifact(
        metrics=m,
        status="completed",
        status_reason=None,
        profile={"name": profile_name, "path": f"{profile_name}.toml", "hash": profile_hash},
        target={"name": "x", "url": "http://127.0.0.1:9"},
        started_at=START,
        ended_at=START + timedelta(seconds=duration_s),
        duration_s=duration_s,
        generator={"cpu_percent": 1.0},
    )
    results.validate_artifact(doc)
    return doc


def synthesized(
    latencies_us: dict[str, list[int]], statuses: dict[str, list[int]] | None = None, **named: Any
) -> dict[str, Any]:
    """An artifact whose scenarios answered with these latencies (and statuses, 200 when not
    given), one request every 10 ms from t = 0; `named` goes to `artifact`."""
    names = sorted(latencies_us)
    m = RunMetrics(names)
    events = []  # (send time, scenario index, latency, status), recorded in time order
    for index, name in enumerate(names):
        codes = (statuses or {}).get(name) or [200] * len(latencies_us[name])
        for i, (latency, status) in enumerate(zip(latencies_us[name], codes, strict=True)):
            events.append((i * 0.01, index, latency, status))
    for t, index, latency, status in sorted(events):
        m.record_planned(t)
        m.record_started(index, t)
        m.record_response(index, t + latency / 1e6, latency, latency, status, None)
    last = max((len(v) for v in latencies_us.values()), default=1) * 0.01
    return artifact(m, duration_s=last + 1, **named)


def answered(m: RunMetrics, t: float, latency_us: int, status: int = 200) -> None:
    m.record_planned(t)
    m.record_started(0, t)
    m.record_response(0, t + latency_us / 1e6, latency_us, latency_us, status, None)


def failed(m: RunMetrics, t: float, latency_us: int, kind: str) -> None:
    m.record_planned(t)
    m.record_started(0, t)
    m.record_error(0, t + latency_us / 1e6, latency_us, latency_us, kind)


def text_of(doc: dict[str, Any]) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(scenario_table(doc))
    return console.export_text() + "\n".join(summary_lines(doc, None))


def test_fast_failures_do_not_pull_down_the_response_latency() -> None:
    m = RunMetrics(["s"])
    for i in range(10):
        answered(m, i * 0.1, 50_000)  # 10 answers at 50 ms
    for i in range(30):
        failed(m, 1 + i * 0.01, 900, "refused")  # 30 refusals at 0.9 ms
    doc = artifact(m)
    mixed = doc["scenarios"]["s"]["latency_ms"]["p50"]
    assert mixed < 1.0  # what the summary used to show as the p50
    assert response_latency(doc, "s")["p50"] == pytest.approx(50.0, rel=1e-2)
    lines = latency_lines(doc)
    assert any(line.startswith("latency of responses: p50 50.") for line in lines), lines
    assert any("time to fail of transport errors: p50 0.9" in line for line in lines), lines
    assert "is the target up?" not in " ".join(lines)  # some requests were answered


# (error kinds of a run with no responses, hint expected)
HINTS = [
    # nothing listens: the classic down target
    (["refused"], True),
    # the host swallows packets
    (["timeout", "refused"], True),
    # something answers the TCP handshake but breaks the exchange: up, but broken
    (["reset"], False),
    (["protocol", "refused"], False),
]


@pytest.mark.parametrize(("kinds", "hint"), HINTS)
def test_no_responses_says_so_and_hints_when_unreachable(kinds: list[str], hint: bool) -> None:
    m = RunMetrics(["s"])
    for i, kind in enumerate(kinds * 3):
        failed(m, i * 0.1, 800, kind)
    text = text_of(artifact(m))
    assert "latency of responses: no responses" in text
    # scenario, requests, rate, peak (from the per-scenario series), then the latency
    assert re.search(r"│ s\s+│\s+\d+ │\s+[\d.]+ │\s+\d+ │\s+no responses │", text), text
    assert ("is the target up?" in text) == hint


def test_a_clean_run_has_no_split_lines() -> None:
    m = RunMetrics(["s"])
    answered(m, 0.5, 2_000)
    assert latency_lines(artifact(m)) == []


def test_an_artifact_without_error_histograms_shows_its_recorded_latency() -> None:
    m = RunMetrics(["s"])
    answered(m, 0.5, 2_000)
    doc = artifact(m)
    doc["histograms"] = {k: v for k, v in doc["histograms"].items() if "error" not in k}
    assert response_latency(doc, "s")["p50"] == doc["scenarios"]["s"]["latency_ms"]["p50"]


def test_peak_rate_is_the_busiest_second_not_the_average() -> None:
    # 1 request in second 0, 5 in second 1, 2 in second 2: average 8/3, peak 5
    m = RunMetrics(["s"])
    for t in (0.5, 1.0, 1.2, 1.4, 1.6, 1.8, 2.1, 2.6):
        answered(m, t, 1_000)
    doc = artifact(m)
    assert peak_rates(doc) == (5, 1, 5)
    (rate,) = [line for line in summary_lines(doc, None) if line.startswith("rate:")]
    assert "achieved 2.7 req/s of 2.7 planned on average" in rate
    assert "peak 5 req/s (second 1) of 5 planned" in rate


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=20, allow_nan=False), min_size=1, max_size=60))
def test_peak_is_at_least_the_average(offsets: list[float]) -> None:
    m = RunMetrics(["s"])
    for t in sorted(offsets):
        answered(m, t, 1_000)
    doc = artifact(m, duration_s=max(offsets) + 1)
    peaks = peak_rates(doc)
    assert peaks is not None
    assert peaks[0] >= doc["totals"]["achieved_rps"]
    assert hdr.total_count(hdr.decode(doc["histograms"]["error_latency"])) == 0


def test_a_down_target_run_shows_no_responses_and_the_hint(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("down", stages=[("2s", 10)], timeout="500ms"))
    out = tmp_path / "down.json"
    with refusing_port() as port:
        write_targets(tmp_path, down=target_table(f"http://127.0.0.1:{port}"))
        result = cli("run", path, "-t", "down", "--out", out, "--quiet")
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    assert doc["totals"]["completed"] == 0 < doc["totals"]["errors"]
    assert "no responses" in result.stdout
    assert "latency of responses: no responses" in result.stdout
    assert "is the target up?" in result.stdout
    assert "time to fail of transport errors" in result.stdout
    # the table has no fast-looking p50 for the scenario that got nothing back
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("│ track")]
    assert "no responses" in row, row
    # 1 -> 10 req/s over 2 s: 3 requests planned in second 0, 7 in second 1, the last at 2.0
    # (a send may leave up to 0.5 ms early, so the achieved peak is read from the series)
    busiest = max(row["started"] for row in doc["series"])
    assert f"; peak {busiest} req/s (second 1) of 7 planned" in result.stdout
