"""Stopping a real `loadgen run` from outside: SIGINT / SIGTERM, a second Ctrl-C, and a
target that dies in the middle of the run. Every run still writes a valid artifact."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loadgen.mock.process import LocalMock
from tests.fault_servers import Reply, responder, stall
from tests.run_support import (
    CliResult,
    profile,
    read_checked,
    start,
    wait_until,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table

# 1 -> 20 req/s in 2 s, then a hold far longer than any test waits: only a signal ends it
LONG = [("2s", 20), ("60s", 20)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_sending_waits_for_in_flight_and_exits_130(
    tmp_path: Path, sig: signal.Signals
) -> None:
    path = write_profile(tmp_path, profile("interrupt", stages=LONG))
    out = tmp_path / "out.json"
    with responder(Reply(delay_s=0.5)) as server:  # every request is in flight for 0.5 s
        write_targets(tmp_path, slow=target_table(server.url))
        run = start("run", path, "-t", "slow", "--grace", "3", "--out", out, "--quiet")
        wait_until(lambda: server.requests_seen >= 5, 20, "5 requests at the server")
        run.send(sig)
        result = run.finish(timeout=30)
        seen = server.requests_seen
    assert result.returncode == 130, result.explain()
    # requests sent just before the signal take 0.5 s: the run waited for them, within grace
    assert 0.2 <= result.elapsed_s < 3 + 3, result.elapsed_s
    doc = read_checked(out)
    assert doc["status"] == "interrupted"
    assert f"interrupted by {sig.name}" in (doc["status_reason"] or "")
    totals = doc["totals"]
    assert totals["unfinished"] == 0 and totals["errors"] == 0
    assert totals["completed"] == totals["sent"] == seen  # nothing sent after the stop
    assert totals["sent"] < 600  # the 62 s schedule was cut short


@dataclass(frozen=True, slots=True)
class TwiceStopped:
    result: CliResult
    doc: dict[str, Any]
    seen: int  # requests the stalled server received


@pytest.fixture(scope="module")
def twice_stopped(tmp_path_factory: pytest.TempPathFactory) -> TwiceStopped:
    """One run against a server that never answers, stopped by two SIGINTs (--grace 30)."""
    tmp = tmp_path_factory.mktemp("twice")
    path = write_profile(tmp, profile("twice", stages=LONG, timeout="60s"))
    with stall() as server:
        write_targets(tmp, stalls=target_table(server.url))
        run = start("run", path, "-t", "stalls", "--grace", "30", "--out", tmp / "out.json", "-q")
        wait_until(lambda: server.requests_seen >= 5, 20, "5 requests at the server")
        run.send(signal.SIGINT)
        time.sleep(0.5)  # the first stop is now waiting out its 30 s grace
        run.send(signal.SIGINT)
        result = run.finish(timeout=25)
        seen = server.requests_seen
    assert result.returncode == 130, result.explain()
    return TwiceStopped(result, read_checked(tmp / "out.json"), seen)


def test_second_sigint_stops_at_once_and_still_writes_the_artifact(
    twice_stopped: TwiceStopped,
) -> None:
    assert twice_stopped.result.elapsed_s < 5  # well before the 30 s grace
    doc = twice_stopped.doc
    assert doc["status"] == "interrupted"
    totals = doc["totals"]
    assert totals["completed"] == totals["errors"] == 0
    assert totals["unfinished"] == totals["sent"] == twice_stopped.seen > 0


def test_second_sigint_status_reason_counts_unfinished(twice_stopped: TwiceStopped) -> None:
    reason = twice_stopped.doc["status_reason"] or ""
    assert f"{twice_stopped.seen} requests unfinished" in reason, reason


def test_target_crash_midway_is_counted_and_the_run_completes(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("crash", stages=[("2s", 20), ("1s", 20)]))
    out = tmp_path / "out.json"
    with LocalMock(rps_limit=0) as mock:
        # ratio 1: the safety stop never trips, so the run goes on against the dead target
        write_targets(tmp_path, mock=target_table(mock.url, safety_error_ratio=1))
        run = start("run", path, "-t", "mock", "--out", out, "--quiet")
        wait_until(lambda: mock.stats()["requests_total"] >= 15, 20, "15 requests at the mock")
        mock.stop()
        result = run.finish(timeout=30)
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    assert doc["status"] == "completed"
    totals = doc["totals"]
    assert totals["planned"] == totals["sent"] == 41  # area of 1 -> 20 in 2 s, 20 for 1 s
    assert totals["completed"] >= 15 and totals["status"]["2xx"] == totals["completed"]
    assert totals["errors_by_kind"]["refused"] > 0  # new connections after the crash
    assert totals["unfinished"] == 0
