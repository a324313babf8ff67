"""The results artifact: built artifacts match the shipped schema, broken ones are rejected
with their JSON path, writes are atomic, reads validate, and merging is lossless."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loadgen
from loadgen.metrics import RunMetrics, hdr
from loadgen.results import artifact as results
from loadgen.results.artifact import ResultsError
from loadgen.results.merge import merge_artifacts
from loadgen.results.status import RunStatus
from tests.test_metrics import ARRIVALS, Arrival, play

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NAMES = ["a", "b", "c"]


def build(m: RunMetrics, *, status: RunStatus = "completed", **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "metrics": m,
        "status": status,
        "status_reason": None if status == "completed" else "interrupted by SIGINT",
        "profile": {"name": "demo", "path": "profiles/demo.toml", "hash": "sha256:abc"},
        "target": {"name": "local", "url": "http://127.0.0.1:8080"},
        "started_at": START,
        "ended_at": START + timedelta(seconds=10),
        "duration_s": 10.0,
        "generator": {"cpu_percent": 20.0},
    }
    args.update(overrides)
    return results.build_artifact(**args)


def sample() -> dict[str, Any]:
    m = RunMetrics(NAMES)
    play(
        m,
        [
            Arrival(0, 10, "200", 1500, 0),
            Arrival(1, 20, "429", 900, 1),
            Arrival(2, 1200, "error", 30_000, 0),
            Arrival(0, 1500, "dropped", 0, 0),
            Arrival(1, 2500, "unfinished", 100, 0),
        ],
    )
    return build(m, status="interrupted")


def test_a_built_artifact_matches_the_schema_and_says_what_happened() -> None:
    doc = sample()
    results.validate_artifact(doc)
    assert doc["schema_version"] == results.SCHEMA_VERSION
    assert doc["tool_version"] == loadgen.__version__
    assert doc["started_at"] == "2024-05-01T12:00:00.000Z"
    t = doc["totals"]
    assert (t["planned"], t["sent"], t["completed"], t["errors"]) == (5, 5, 3, 1)
    assert (t["dropped"], t["retries"], t["unfinished"]) == (1, 1, 1)
    assert t["status"]["429"] == 2 and t["status_codes"] == {"200": 1, "429": 2}
    assert t["by_attempt"]["retry"]["status"]["429"] == 1
    assert t["errors_by_kind"]["refused"] == 1  # play() picks the kind from the latency
    assert (t["achieved_rps"], t["planned_rps"]) == (0.5, 0.5)
    assert set(doc["histograms"]) == {"latency", "service", "error_latency", "lag"} | {
        f"{kind}:{name}" for kind in ("latency", "service", "error_latency") for name in NAMES
    }
    assert doc["scenarios"]["a"]["latency_ms"]["p50"] == 1.5
    assert doc["generator"]["bottleneck"] is False
    assert [row["t"] for row in doc["series"]] == [0, 1, 2]


def test_the_shipped_schema_is_strict_and_documents_every_field() -> None:
    shipped = results.schema()
    assert shipped["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert shipped["additionalProperties"] is False

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                for name, sub in node["properties"].items():
                    assert "description" in sub, f"{path}.{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")

    walk(shipped, "$")


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        # a negative count is never valid
        (lambda d: d["totals"]["status"].__setitem__("2xx", -1), "$.totals.status['2xx']"),
        # a field dashboards do not know about is rejected at the top level
        (lambda d: d.__setitem__("extra", 1), "$"),
        # the status is a closed set
        (lambda d: d.__setitem__("status", "exploded"), "$.status"),
        # histograms must be base64
        (lambda d: d["histograms"].__setitem__("lag", "not base64!"), "$.histograms.lag"),
        # credentials in the URL are refused by the schema itself
        (lambda d: d["target"].__setitem__("url", "https://u:p@x.test"), "$.target.url"),
        # timestamps are UTC with a Z
        (lambda d: d.__setitem__("ended_at", "2024-05-01T12:00:00+02:00"), "$.ended_at"),
        # a series row has a fixed shape
        (lambda d: d["series"][1].pop("p99_ms"), "$.series[1]"),
    ],
)
def test_a_broken_artifact_is_rejected_naming_the_path(breakage: Any, where: str) -> None:
    doc = sample()
    breakage(doc)
    with pytest.raises(ResultsError) as err:
        results.validate_artifact(doc)
    assert f"  - {where}:" in str(err.value)


def test_write_then_read_round_trips_and_leaves_no_temp_files(tmp_path: Path) -> None:
    doc = sample()
    path = results.write_artifact(tmp_path / "deep" / "dir" / "run.json", doc)
    assert results.read_artifact(path) == doc
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]


def test_a_crash_mid_write_keeps_the_old_file(tmp_path: Path, monkeypatch: Any) -> None:
    path = results.write_artifact(tmp_path / "run.json", sample())
    before = path.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    changed = sample()
    changed["status_reason"] = "a different run"
    with pytest.raises(ResultsError, match="No space left"):
        results.write_artifact(path, changed)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_an_invalid_artifact_is_never_written(tmp_path: Path) -> None:
    doc = sample()
    del doc["totals"]
    with pytest.raises(ResultsError, match="totals"):
        results.write_artifact(tmp_path / "run.json", doc)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),  # the file does not exist
        (b"{not json", "invalid JSON"),  # truncated or not JSON at all
        (b"[1, 2]", "not an object"),  # JSON, but not an artifact
        (b'{"schema_version": "2.0"}', "schema version 2.0 is not supported"),  # newer major
        (b'{"schema_version": "1.0"}', "does not match schema"),  # right version, no fields
    ],
)
def test_reading_a_bad_file_names_it(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ResultsError, match=message) as err:
        results.read_artifact(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize(
    ("name", "now", "expected"),
    [
        # the plain case
        ("ramp", START, "results/ramp-20240501T120000Z.json"),
        # a local time is converted to UTC
        ("ramp", datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
         "results/ramp-20240501T120000Z.json"),
        # a name that would escape the directory is made safe
        ("../../etc/x", START, "results/etc-x-20240501T120000Z.json"),
        # an unnamed profile still gets a name
        ("", START, "results/run-20240501T120000Z.json"),
    ],
)  # fmt: skip
def test_default_artifact_path(name: str, now: datetime, expected: str) -> None:
    assert results.default_artifact_path(name, now) == Path(expected)


@pytest.mark.parametrize(
    ("cpu", "lag", "bottleneck", "mentions"),
    [
        (50.0, 1.0, False, None),  # a healthy generator
        (90.0, 10.0, False, None),  # exactly at both limits is still fine
        (95.0, 1.0, True, "95 % CPU"),  # saturated CPU
        (20.0, 12.5, True, "lag p99 was 12.5 ms"),  # late starts
        (99.0, 40.0, True, "; "),  # both reasons, joined
    ],
)
def test_generator_verdict(cpu: float, lag: float, bottleneck: bool, mentions: str | None) -> None:
    verdict, reason = results.generator_verdict(cpu, lag)
    assert verdict is bottleneck
    assert (reason is None) is (mentions is None)
    if mentions:
        assert reason is not None and mentions in reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # nothing secret: unchanged
        ("https://us.i.posthog.com/batch", "https://us.i.posthog.com/batch"),
        # basic-auth credentials in the URL are dropped
        ("https://key:secret@api.segment.io/v1", "https://api.segment.io/v1"),
        # a token in the query is redacted, other parameters kept
        ("http://127.0.0.1:9/x?api_key=abc&region=eu", "http://127.0.0.1:9/x?api_key=redacted&region=eu"),
        # IPv6 loopback keeps its brackets and port
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ],
)  # fmt: skip
def test_public_url_never_contains_credentials(url: str, expected: str) -> None:
    assert results.public_url(url) == expected


def test_build_takes_the_generator_verdict_from_lag_when_not_given() -> None:
    m = RunMetrics(["a"])
    for _ in range(10):
        m.record_lag(50_000)  # 50 ms late, every time
    doc = build(m)
    assert doc["generator"]["lag_ms"]["p99"] == 50.015  # upper bound of the HDR bucket
    assert doc["generator"]["bottleneck"] is True
    assert "lag p99" in doc["generator"]["reason"]


def _measurements_only(doc: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "totals",
        "scenarios",
        "series",
        "histograms",
        "series_histograms",
        "scenario_series",
        "series_service_histograms",
        "scenario_series_histograms",
    )
    out = {k: doc[k] for k in keep}
    out["lag_ms"] = doc["generator"]["lag_ms"]
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARRIVALS, st.lists(st.booleans(), min_size=120, max_size=120))
def test_merging_the_halves_of_a_run_equals_the_whole(
    arrivals: list[Arrival], sides: list[bool]
) -> None:
    whole, left, right = RunMetrics(NAMES), RunMetrics(NAMES), RunMetrics(NAMES)
    for m in (whole, left, right):  # segments of one run start together
        m.mark_start(datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC))
    play(whole, arrivals)
    play(left, [a for a, side in zip(arrivals, sides, strict=False) if side])
    play(right, [a for a, side in zip(arrivals, sides, strict=False) if not side])
    merged = merge_artifacts([build(left), build(right)])
    results.validate_artifact(merged)
    assert _measurements_only(merged) == _measurements_only(build(whole))
    assert merged["run"]["merged_from"] == 2


def test_merge_keeps_the_worst_status_and_every_bottleneck() -> None:
    calm, busy = sample(), copy.deepcopy(sample())
    calm["status"], calm["status_reason"] = "completed", None
    busy["status"], busy["status_reason"] = "aborted", "safety stop: 60 % errors"
    busy["generator"].update(bottleneck=True, reason="loadgen used 97 % CPU", cpu_percent=97.0)
    merged = merge_artifacts([calm, busy])
    assert merged["status"] == "aborted"
    assert merged["status_reason"] == "artifact 2: safety stop: 60 % errors"
    assert merged["generator"]["bottleneck"] is True
    assert merged["generator"]["reason"].startswith("artifact 2: loadgen used 97 % CPU")
    assert merged["totals"]["planned"] == 2 * calm["totals"]["planned"]


def test_merge_refuses_runs_of_different_profiles() -> None:
    one, other = sample(), sample()
    other["profile"]["hash"] = "sha256:def"
    with pytest.raises(ResultsError, match=r"profile\.hash differs"):
        merge_artifacts([one, other])
    with pytest.raises(ResultsError, match="nothing to merge"):
        merge_artifacts([])


def test_error_latency_holds_only_the_transport_errors() -> None:
    # scenario c's one attempt is a transport error after 30 ms; a and b got responses
    doc = sample()
    errors = {name: hdr.decode(doc["histograms"][f"error_latency:{name}"]) for name in NAMES}
    assert [hdr.total_count(errors[name]) for name in NAMES] == [0, 0, 1]
    assert hdr.stats_ms(errors["c"])["p50"] == pytest.approx(30.0, rel=1e-3)
    every = hdr.decode(doc["histograms"]["latency"])
    responses = hdr.without(every, hdr.decode(doc["histograms"]["error_latency"]))
    assert hdr.total_count(responses) == hdr.total_count(every) - 1
    assert hdr.stats_ms(responses)["max"] == pytest.approx(1.5, rel=1e-2)  # not the 30 ms
