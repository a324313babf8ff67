"""`loadgen run --workers N` with real processes on loopback: one merged artifact whose
counts are the embedded mock's and a single run's, Ctrl-C/SIGTERM through the parent to
every worker, a worker killed outright, and the rate cap split so that the server never
sees more than the approved peak."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.run_support import (
    Running,
    child_pid,
    cli,
    max_in_window,
    process_ended,
    profile,
    read_checked,
    start,
    wait_for_requests,
    wait_until,
    write_profile,
)
from tests.test_run_guarded import Approver, approver, capped_run

__all__ = ["approver"]  # the module-scoped key pair fixture, shared with test_run_guarded

SHORT = [("2s", 20), ("1s", 20)]  # 1 -> 20 req/s in 2 s, 1 s at 20: 41 requests
LONG = [("2s", 20), ("60s", 20)]  # only a signal ends it; under local's 100 req/s


def parts_dirs(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.parts-*"))


def worker_pid(run: Running, segment: str) -> int:
    """The worker process of `segment` (its command line holds the segment, e.g. 2/2)."""
    found: list[int] = []

    def started() -> bool:
        pid = child_pid(run.proc.pid, segment.encode())
        found[:] = [pid] if pid is not None else []
        return bool(found)

    wait_until(started, 20, f"the worker of segment {segment}")
    return found[0]


def test_two_workers_write_one_artifact_with_the_single_runs_counts(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("split", stages=SHORT))
    single = cli("run", path, "--out", tmp_path / "single.json", "--quiet")
    assert single.returncode == 0, single.explain()
    result = cli("run", path, "--workers", "2", "--out", tmp_path / "merged.json", "--quiet")
    assert result.returncode == 0, result.explain()
    doc = read_checked(tmp_path / "merged.json")
    planned = read_checked(tmp_path / "single.json")["totals"]["planned"]
    totals, observed = doc["totals"], doc["target"]["observed"]
    assert planned == 41  # the area under the ramp: the schedule is the same either way
    assert totals["planned"] == totals["sent"] == totals["completed"] == planned
    assert observed["requests_received"] == planned  # ONE mock received both workers'
    assert doc["status"] == "completed" and doc["status_reason"] is None
    assert doc["run"]["workers"] == 2 and doc["run"]["segments"] == [["0", "1/2"], ["1/2", "1"]]
    assert sorted(r["segment"] for r in doc["run"]["runs"]) == ["1/2", "2/2"]
    assert doc["thresholds"] == []  # thresholds: wired at merge (not evaluated here yet)
    assert parts_dirs(tmp_path) == []  # merged: the parts are gone
    assert "results: " + str(tmp_path / "merged.json") in result.stdout, result.stdout


def test_sigterm_to_the_parent_stops_every_worker_and_merges_their_parts(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("term", stages=LONG))
    out = tmp_path / "out.json"
    run = start("run", path, "--workers", "2", "--out", out, "--quiet")
    try:
        wait_for_requests(run.proc.pid, 20)
        run.send(signal.SIGTERM)
        result = run.finish(timeout=60)
    finally:
        run.kill()
    assert result.returncode == 130, result.explain()
    assert "Traceback" not in result.stderr, result.stderr
    doc = read_checked(out)
    assert doc["status"] == "interrupted"
    assert doc["run"]["segments"] == [["0", "1/2"], ["1/2", "1"]] and doc["run"]["merged_from"] == 2
    reason = doc["status_reason"] or ""
    for segment in ("1/2", "2/2"):  # each worker was stopped by the signal passed on
        assert f"segment {segment}: interrupted by SIGTERM" in reason, reason
    assert doc["totals"]["sent"] >= 20
    assert doc["target"]["observed"]["requests_received"] == doc["totals"]["sent"]


def session_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[3])


def test_a_terminals_ctrl_c_reaches_each_worker_once_through_the_parent(tmp_path: Path) -> None:
    """The terminal signals the whole foreground group: the workers, in sessions of their
    own, are not in it, and get the signal once, passed on by the parent (a second would
    stop them at once, without the grace period)."""
    path = write_profile(tmp_path, profile("ctrlc", stages=LONG))
    out = tmp_path / "out.json"
    run = start("run", path, "--workers", "2", "--out", out, "--quiet")
    try:
        wait_for_requests(run.proc.pid, 20)
        workers = [worker_pid(run, segment) for segment in ("1/2", "2/2")]
        assert all(session_of(w) != session_of(run.proc.pid) for w in workers)
        os.killpg(run.proc.pid, signal.SIGINT)
        result = run.finish(timeout=60)
    finally:
        run.kill()
    assert result.returncode == 130, result.explain()
    doc = read_checked(out)
    reason = doc["status_reason"] or ""
    for segment in ("1/2", "2/2"):
        assert f"segment {segment}: interrupted by SIGINT" in reason, reason
    assert doc["totals"]["unfinished"] == 0


def test_a_killed_worker_is_named_and_the_others_results_are_kept(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("lost", stages=LONG))
    out = tmp_path / "out.json"
    run = start("run", path, "--workers", "2", "--out", out, "--quiet")
    try:
        wait_for_requests(run.proc.pid, 20)
        os.kill(worker_pid(run, "2/2"), signal.SIGKILL)
        wait_for_requests(run.proc.pid, 40)  # worker 1 goes on alone meanwhile
        run.send(signal.SIGTERM)
        result = run.finish(timeout=60)
    finally:
        run.kill()
    assert result.returncode == 5, result.explain()  # aborted: the table of a single run
    doc = read_checked(out)
    assert doc["status"] == "aborted"
    reason = doc["status_reason"] or ""
    assert "worker 2 (segment 2/2) lost: killed by SIGKILL" in reason, reason
    assert "segment 1/2: interrupted by SIGTERM" in reason, reason
    assert doc["run"]["segments"] == [["0", "1/2"]] and doc["run"]["lost_segments"] == ["2/2"]
    assert doc["totals"]["sent"] > 0  # worker 1's results are kept
    kept = parts_dirs(tmp_path)
    assert len(kept) == 1 and (kept[0] / "part-1.json").is_file()
    assert f"parts are kept in {kept[0]}" in result.stderr, result.stderr


def test_the_approved_peak_holds_at_the_server_with_two_workers(
    tmp_path: Path, approver: Approver
) -> None:
    result, handler = capped_run(tmp_path, approver, "2s", "--workers", "2")
    out = tmp_path / "out.json"
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    assert doc["totals"]["retries"] > 0 and doc["totals"]["status"]["429"] > 0
    assert len(handler.arrivals) == doc["totals"]["sent"]
    busiest = max_in_window(handler.arrivals, 1.0)
    # each worker asks ~75 req/s (50 first attempts + retries) and may send 50: together
    # they press against the approved 100 and never pass it
    assert 80 <= busiest <= 101, busiest


@pytest.mark.parametrize(
    ("args", "said"),
    [
        # no worker at all
        (["--workers", "0"], "--workers 0: give 1 to 64"),
        # above the supported ceiling
        (["--workers", "65"], "--workers 65: give 1 to 64"),
        # not a number
        (["--workers", "many"], "--workers 'many': give a whole number"),
        # a worker's segment is chosen by --workers: a user's would be overridden
        (["--workers", "2", "--segment", "1/2"], "each worker takes its own segment"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], said: str) -> None:
    path = write_profile(tmp_path, profile("usage", stages=SHORT))
    result = cli("run", path, *args, "--out", tmp_path / "out.json", "--quiet")
    assert result.returncode == 2, result.explain()
    assert said in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_worker_url_off_loopback_is_refused(tmp_path: Path) -> None:
    """The hidden option only ever names the parent's mock: never a way around targets."""
    path = write_profile(tmp_path, profile("offbox", stages=SHORT))
    for args in (
        ["--worker-url", "http://192.0.2.1:80"],  # off the machine
        ["--worker-progress-fd", "1", "--worker-url", "http://192.0.2.1:80"],  # as a worker
        ["-t", "staging", "--worker-url", "http://127.0.0.1:9"],  # a target that is not local
    ):
        result = cli("run", path, *args, "--out", tmp_path / "out.json", "--quiet")
        assert result.returncode == 2, result.explain()
        assert "--worker-url is the parent's embedded mock" in result.stderr, result.stderr


def test_workers_do_not_outlive_a_parent_killed_outright(tmp_path: Path) -> None:
    """SIGKILL of the parent: each worker finds its pipe broken at its next progress line
    (about a second) and stops itself as a Ctrl-C would; none is left sending."""
    path = write_profile(tmp_path, profile("orphan", stages=LONG))
    run = start("run", path, "--workers", "2", "--out", tmp_path / "out.json", "--quiet")
    workers: list[int] = []
    try:
        wait_for_requests(run.proc.pid, 20)
        workers = [worker_pid(run, segment) for segment in ("1/2", "2/2")]
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(10)
        wait_until(lambda: all(map(process_ended, workers)), 20, "the workers to end")
    finally:
        run.kill()
        for pid in workers:  # in sessions of their own: not in the parent's group
            if not process_ended(pid):
                os.kill(pid, signal.SIGKILL)
