"""`run --start-at` and `--segment` as a fleet uses them, end to end on loopback: a start
ahead is waited for, a start missed skips (and counts) what is past, and three slices with
one agreed start against one shared mock add up to the whole schedule. Also the usage
errors and the slice's totals in `plan` / `--dry-run`."""

from __future__ import annotations

import json
import select
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loadgen.arrivals.schedule import ExecutionSegment, Schedule
from loadgen.errors import ExitCode
from loadgen.mock.process import LocalMock
from tests.run_support import (
    cli,
    profile,
    read_checked,
    run_all,
    start,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table

# 1 -> 10 req/s over 2 s, then 4 s at 10 req/s: 51 requests (the guard wants a ramp)
STAGES = (("2s", 10), ("4s", 10))
SCHEDULE = Schedule(1, [(2, 10), (4, 10)])


def _profile(tmp_path: Path) -> Path:
    return write_profile(tmp_path, profile("fleet", start_rate=1, stages=STAGES))


def _epoch(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_a_start_ahead_is_waited_for_then_the_whole_schedule_runs(tmp_path: Path) -> None:
    agreed = datetime.now(UTC) + timedelta(seconds=3)  # after the process and mock are up
    out = tmp_path / "r.json"
    result = cli("run", _profile(tmp_path), "--start-at", _epoch(agreed), "--out", out)
    assert result.returncode == 0, result.explain()
    assert "waiting for the agreed start at" in result.stderr
    doc = read_checked(out)
    run = doc["run"]
    assert abs((_parse(run["start_at_agreed"]) - agreed).total_seconds()) < 0.002
    assert _parse(run["start_at_actual"]) >= _parse(run["start_at_agreed"])
    assert run["skipped_late"] == 0 and run["start_late_s"] == 0
    assert doc["totals"]["planned"] == doc["totals"]["sent"] == SCHEDULE.total_requests == 51
    # the wait is not part of the run: its clock starts at the agreed start
    assert doc["started_at"] == run["start_at_agreed"]
    assert doc["duration_s"] < 6 + 3


def test_a_start_missed_by_half_the_schedule_skips_that_half_and_sends_the_rest(
    tmp_path: Path,
) -> None:
    agreed = datetime.now(UTC) - timedelta(seconds=3)
    out = tmp_path / "r.json"
    result = cli("run", _profile(tmp_path), "--start-at", _epoch(agreed), "--out", out, "-q")
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    run, totals = doc["run"], doc["totals"]
    late = run["start_late_s"]
    assert 3 <= late < 6  # the 3 s agreed, plus this process's start-up
    # what was planned before the real start is counted as dropped, the rest is sent
    assert abs(run["skipped_late"] - SCHEDULE.count_by(late)) <= 1
    assert totals["planned"] == SCHEDULE.total_requests
    assert totals["dropped"] == run["skipped_late"] > 0
    assert totals["sent"] == totals["planned"] - totals["dropped"] > 0
    assert doc["started_at"] == run["start_at_agreed"]  # second 0 of the series
    assert doc["duration_s"] < 6  # the run's own time, not counted from the agreed start
    # in the second each was planned for, and never bunched into the first second sent
    for row in doc["series"]:
        if row["t"] + 1 <= late:
            assert row["started"] == 0 and row["dropped"] == row["planned"]
        assert row["started"] <= row["planned"] + 1


def test_three_slices_with_one_agreed_start_add_up_to_the_whole_run(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, shared=target_table(mock.url, safety_error_ratio=1))
        agreed = _epoch(datetime.now(UTC) + timedelta(seconds=5))  # three start-ups on 2 cores
        runs = [
            start(
                "run",
                path,
                "-t",
                "shared",
                "--segment",
                f"{i}/3",
                "--start-at",
                agreed,
                "--out",
                tmp_path / f"slice{i}.json",
                "-q",
            )
            for i in (1, 2, 3)
        ]
        results = run_all(runs)
        stats = mock.stats()
    for result in results:
        assert result.returncode == 0, result.explain()
    docs = [read_checked(tmp_path / f"slice{i}.json") for i in (1, 2, 3)]
    planned = [d["totals"]["planned"] for d in docs]
    assert sum(planned) == SCHEDULE.total_requests
    assert all(abs(p - SCHEDULE.total_requests / 3) <= 2 for p in planned)  # fair shares
    assert sum(d["totals"]["sent"] for d in docs) == stats["requests_total"] == sum(planned)
    assert [d["run"]["segment"] for d in docs] == ["1/3", "2/3", "3/3"]
    assert [(d["run"]["segment_start"], d["run"]["segment_end"]) for d in docs] == [
        ("0", "1/3"),
        ("1/3", "2/3"),
        ("2/3", "1"),
    ]
    assert len({d["run"]["start_at_agreed"] for d in docs}) == 1


def _usage(tmp_path: Path, *extra: str) -> Any:
    result = cli("run", _profile(tmp_path), "--out", tmp_path / "r.json", *extra)
    assert result.returncode == ExitCode.USAGE, result.explain()
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()  # refused before anything ran
    return result


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("2026-12-02T14:00:00", "no time zone"),  # naive: which zone?
        ("soon", "not a time"),  # garbage
        (str(int(time.time()) + 3 * 86400), "h ahead"),  # three days ahead: a typo
    ],
)
def test_a_bad_start_at_is_a_usage_error_with_an_example(
    tmp_path: Path, value: str, said: str
) -> None:
    result = _usage(tmp_path, "--start-at", value)
    assert "--start-at" in result.stderr and said in result.stderr


def test_a_bad_segment_is_a_usage_error(tmp_path: Path) -> None:
    result = _usage(tmp_path, "--segment", "4/3")
    assert "--segment" in result.stderr and "1 <= i <= n" in result.stderr


def test_plan_and_dry_run_show_the_slice_totals(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    text = cli("plan", path, "--segment", "2/3")
    assert text.returncode == 0, text.explain()
    share = SCHEDULE.requests_in(ExecutionSegment.parse("2/3"))
    assert f"Segment 2/3 (1/3 to 2/3 of the schedule): {share} of 51 requests" in text.stdout
    as_json = cli("plan", path, "--segment", "2/3", "--json")
    assert json.loads(as_json.stdout)["slice"]["segment_requests"] == share
    dry = cli("run", path, "--segment", "2/3", "--dry-run")
    assert dry.returncode == 0, dry.explain()
    assert f"{share} of 51 requests" in dry.stdout


def test_sigterm_while_waiting_for_the_start_writes_an_interrupted_artifact(
    tmp_path: Path,
) -> None:
    agreed = datetime.now(UTC) + timedelta(seconds=120)
    out = tmp_path / "r.json"
    running = start("run", _profile(tmp_path), "--start-at", _epoch(agreed), "--out", out)
    try:
        stderr = running.proc.stderr
        assert stderr is not None
        ready, _, _ = select.select([stderr], [], [], 30)
        line = stderr.readline() if ready else ""
        assert "waiting for the agreed start at" in line  # the wait has begun
        running.send(signal.SIGTERM)
        result = running.finish(30)
    finally:
        running.kill()
    assert result.returncode == ExitCode.INTERRUPTED, result.explain()
    assert result.elapsed_s < 20  # it did not wait the two minutes out
    doc = read_checked(out)
    assert doc["status"] == "interrupted"
    assert doc["totals"]["sent"] == doc["totals"]["planned"] == 0
    assert doc["run"]["start_at_actual"] is None
