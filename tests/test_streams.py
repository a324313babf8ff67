"""`loadgen run --out-series FILE`: the per-second series file, written while the run goes
on and equal to the artifact's series at every ending; plus the file format itself."""

from __future__ import annotations

import csv
import io
import signal
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen.report.streams import CSV_COLUMNS, SeriesFile, artifact_rows, csv_line, ndjson_line
from tests.run_support import cli, profile, read_checked, scenario, start, wait_until, write_profile

ROW: dict[str, Any] = {
    "t": 0,
    "time": "2026-01-02T03:04:05.000Z",
    "planned": 3,
    "started": 3,
    "completed": 2,
    "dropped": 0,
    "status_429": 1,
    "errors": 1,
    "status": {"2xx": 1, "3xx": 0, "4xx": 0, "429": 1, "5xx": 0, "other": 0, "transport": 1},
    "in_flight": 0,
    "p50_ms": 1.5,
    "p95_ms": 2.0,
    "p99_ms": 2.0,
    "service_p50_ms": None,
    "service_p95_ms": None,
    "service_p99_ms": None,
}
DOC = {"series": [ROW, {**ROW, "t": 1}], "scenario_series": {"a": [ROW, {**ROW, "t": 1}]}}


def _ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_artifact_rows_interleave_the_run_and_each_scenario_per_second() -> None:
    rows = list(artifact_rows(DOC))
    assert [(r["scenario"], r["t"]) for r in rows] == [("all", 0), ("a", 0), ("all", 1), ("a", 1)]
    # an older artifact without scenario_series: the run's rows only
    assert [r["scenario"] for r in artifact_rows({"series": [ROW]})] == ["all"]


def test_a_csv_record_flattens_the_status_split_and_leaves_nulls_empty() -> None:
    record = next(
        csv.DictReader(io.StringIO(",".join(CSV_COLUMNS) + "\n" + csv_line(ROW).decode()))
    )
    assert record["status_429"] == "1" and record["status_transport"] == "1"
    assert record["status_2xx"] == "1" and record["service_p50_ms"] == ""
    assert record["time"] == ROW["time"] and record["p95_ms"] == "2.0"
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)  # every column name once


def test_finish_appends_what_is_missing_when_the_written_rows_match(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    series = SeriesFile(path)
    series.append(list(artifact_rows(DOC))[:2])
    inode = path.stat().st_ino
    series.finish(DOC)
    assert path.read_bytes() == b"".join(ndjson_line(r) for r in artifact_rows(DOC))
    assert path.stat().st_ino == inode  # appended in place: `tail -f` keeps following


def test_finish_replaces_the_file_when_a_written_row_changed_since(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    series = SeriesFile(path)
    series.append([{"scenario": "all", **ROW, "planned": 2}])  # one arrival recorded late
    series.finish(DOC)
    records = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["planned"] for r in records] == ["3", "3", "3", "3"]
    assert not list(tmp_path.glob(".*partial"))


def test_an_unwritable_series_path_is_a_usage_error_before_any_request(tmp_path: Path) -> None:
    prof = write_profile(tmp_path, profile("noseries", stages=(("1s", 5),)))
    result = cli("run", prof, "-q", "--out-series", tmp_path / "missing" / "s.ndjson")
    assert result.returncode == 2, result.explain()
    assert "--out-series" in result.stderr and "choose a path" in result.stderr
    assert "Traceback" not in result.stderr


def _two_scenarios(name: str, seconds: int) -> dict[str, Any]:
    return profile(
        name,
        start_rate=2,
        stages=(("2s", 20), (f"{seconds}s", 20)),
        scenarios=[scenario("track"), scenario("page", kind="batch")],
    )


def test_the_file_is_streamed_and_ends_equal_to_the_artifacts_series(tmp_path: Path) -> None:
    prof = write_profile(tmp_path, _two_scenarios("streamed", 4))
    out, series = tmp_path / "r.json", tmp_path / "s.ndjson"
    run = start("run", prof, "-q", "--out", out, "--out-series", series)
    try:  # rows appear while the run goes on, each line whole and valid JSON
        wait_until(lambda: series.exists() and series.stat().st_size > 0, 20, "a first row")
        early = _ndjson(series)
        result = run.finish()
    finally:
        run.kill()
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    assert 0 < len(early) < 3 * len(doc["series"])
    rows = _ndjson(series)

    def by_second(r: Mapping[str, Any]) -> tuple[int, str]:
        return r["t"], r["scenario"]

    # the artifact on disk has sorted keys; per second, the file has the run's row first
    assert sorted(rows, key=by_second) == sorted(artifact_rows(doc), key=by_second)
    assert [r["scenario"] for r in rows[:3]] == ["all", "track", "page"]
    assert {r["scenario"] for r in rows} == {"all", "track", "page"}
    assert sum(r["started"] for r in rows if r["scenario"] == "all") == doc["totals"]["sent"]
    assert (
        sum(r["started"] for r in rows if r["scenario"] == "page")
        == (doc["scenarios"]["page"]["count"])
    )


def test_ctrl_c_leaves_a_complete_csv_equal_to_the_artifact(tmp_path: Path) -> None:
    prof = write_profile(tmp_path, _two_scenarios("stopped", 30))
    out, series = tmp_path / "r.json", tmp_path / "s.csv"
    run = start("run", prof, "-q", "--out", out, "--out-series", series)
    try:
        wait_until(lambda: series.exists() and series.read_text().count("\n") > 3, 20, "rows")
        run.send(signal.SIGINT)
        result = run.finish()
    finally:
        run.kill()
    assert result.returncode == 130, result.explain()
    doc = read_checked(out)
    records = list(csv.DictReader(io.StringIO(series.read_text())))
    assert sorted((int(r["t"]), r["scenario"], int(r["started"])) for r in records) == sorted(
        (r["t"], r["scenario"], r["started"]) for r in artifact_rows(doc)
    )


def test_a_metrics_port_in_use_is_a_usage_error_before_any_request(tmp_path: Path) -> None:
    prof = write_profile(tmp_path, profile("busyport", stages=(("1s", 5),)))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", prof, "-q", "--out", tmp_path / "r.json", "--metrics-port", port)
    assert result.returncode == 2, result.explain()
    assert f"--metrics-port {port}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()  # nothing ran


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("0.0.0.0", True),  # every interface: open to the network
        ("192.0.2.10", True),  # a non-loopback address
        ("::1", False),  # IPv6 loopback is fine
    ],
)
def test_a_non_loopback_metrics_host_is_refused_unless_allowed(
    tmp_path: Path, host: str, refused: bool
) -> None:
    if host == "::1" and not _ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    prof = write_profile(tmp_path, profile("remote", stages=(("1s", 2),)))
    args: list[str | Path] = ["run", prof, "-q", "--out", tmp_path / "r.json"]
    result = cli(*args, "--metrics-port", "0", "--metrics-host", host)
    if refused:
        assert result.returncode == 2, result.explain()
        assert "--metrics-allow-remote" in result.stderr
    else:
        assert result.returncode == 0, result.explain()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
