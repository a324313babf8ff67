"""Thresholds in real runs on loopback: a failing one exits 99 with its entry marked, a run
whose every answer is 401 fails `http_req_failed`, an `abort_on_fail` threshold stops a run
mid-way, and `loadgen check` gives the same verdict from the artifact alone."""

from __future__ import annotations

from pathlib import Path

from loadgen.errors import ExitCode
from tests.fault_servers import Reply, responder
from tests.run_support import cli, profile, read_checked, write_profile, write_targets
from tests.run_support import target as target_table

SHORT = (("2s", 10),)  # 1 -> 10 req/s over 2 s: 11 requests


def test_a_failing_threshold_exits_99_and_says_which(tmp_path: Path) -> None:
    data = profile(
        "gate",
        stages=SHORT,
        thresholds={"http_req_duration": ["p(95)<0.001", "p(99)<60000"], "errors": "count==0"},
    )
    out = tmp_path / "r.json"
    result = cli("run", write_profile(tmp_path, data), "--out", out, "-q")
    assert result.returncode == ExitCode.THRESHOLDS_FAILED, result.explain()
    entries = read_checked(out)["thresholds"]
    assert [(e["expression"], e["passed"]) for e in entries] == [
        ("p(95)<0.001", False),
        ("p(99)<60000", True),
        ("count==0", True),
    ]
    assert entries[0]["metric"] == "latency" and entries[0]["observed"] > 0.001
    assert "✗ http_req_duration: p(95)<0.001" in result.stdout
    assert cli("check", out, "-q").returncode == ExitCode.THRESHOLDS_FAILED


def test_every_answer_a_401_fails_http_req_failed(tmp_path: Path) -> None:
    data = profile("denied", stages=SHORT, thresholds={"http_req_failed": ["rate<0.01"]})
    with responder(Reply(401, body=b'{"error":"unauthorized"}')) as server:
        write_targets(tmp_path, denied=target_table(server.url, safety_error_ratio=1))
        out = tmp_path / "r.json"
        result = cli("run", write_profile(tmp_path, data), "-t", "denied", "--out", out, "-q")
    assert result.returncode == ExitCode.THRESHOLDS_FAILED, result.explain()
    (entry,) = read_checked(out)["thresholds"]
    assert entry["metric"] == "failed" and entry["observed"] == 1.0 and not entry["passed"]


def test_an_abort_on_fail_threshold_stops_the_run_mid_way(tmp_path: Path) -> None:
    never = {"threshold": "p(99)<0.001", "abort_on_fail": True, "delay_abort_eval": "1s"}
    data = profile("doomed", stages=(("3s", 10), ("30s", 10)), thresholds={"latency": [never]})
    out = tmp_path / "r.json"
    result = cli("run", write_profile(tmp_path, data), "--out", out, "-q")
    assert result.returncode == ExitCode.THRESHOLDS_FAILED, result.explain()
    doc = read_checked(out)
    assert doc["status"] == "aborted"
    assert "threshold latency: p(99)<0.001 failed" in doc["status_reason"]
    (entry,) = doc["thresholds"]
    assert entry["aborted_run"] and not entry["passed"]
    # stopped at the first check after its delay (~2-4 s of a 33 s schedule), not at the end
    assert 0 < doc["totals"]["sent"] < 100 < 316  # 316 planned over the whole schedule
    assert cli("check", out, "-q").returncode == ExitCode.THRESHOLDS_FAILED


def test_check_re_evaluates_with_a_profile_and_warns_when_it_is_another(tmp_path: Path) -> None:
    data = profile("ok", stages=SHORT, thresholds={"dropped_iterations": ["count==0"]})
    path = write_profile(tmp_path, data)
    out = tmp_path / "r.json"
    assert cli("run", path, "--out", out, "-q").returncode == 0
    passed = cli("check", out)
    assert passed.returncode == 0, passed.explain()
    assert "✓ dropped_iterations: count==0" in passed.stdout
    (tmp_path / "other").mkdir()
    stricter = write_profile(
        tmp_path / "other", profile("ok", stages=SHORT, thresholds={"http_reqs": ["count>1000"]})
    )
    failed = cli("check", out, "--profile", stricter)
    assert failed.returncode == ExitCode.THRESHOLDS_FAILED, failed.explain()
    assert "hash differs" in failed.stderr and "✗ http_reqs: count>1000" in failed.stdout


def test_check_of_a_file_that_is_no_artifact_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = cli("check", bad)
    assert result.returncode == ExitCode.INVALID_INPUT
    assert "not a results artifact" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_expression_is_a_profile_error_in_lint_plan_and_run(tmp_path: Path) -> None:
    data = profile("typo", stages=SHORT, thresholds={"http_req_duration": ["p(99)<banana"]})
    path = write_profile(tmp_path, data)
    for command in ("lint", "plan", "run"):
        result = cli(command, path)
        assert result.returncode == ExitCode.INVALID_INPUT, (command, result.explain())
        assert "`banana` is not a number" in result.stdout + result.stderr
        assert f"{path.name}:" in result.stdout + result.stderr  # file:line
