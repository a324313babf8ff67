"""Ctrl-C at every moment of a real `loadgen run` against the `local` target, the way a
terminal sends it (to the whole foreground process group), and a SIGKILL of loadgen: exit
130 with an `interrupted` artifact and no traceback, and never an orphaned embedded mock."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.run_support import (
    ROOT,
    Running,
    child_pid,
    embedded_mock_pid,
    process_ended,
    profile,
    read_checked,
    start,
    wait_for_requests,
    wait_until,
    write_profile,
)

LONG = [("2s", 20), ("60s", 20)]  # only a signal ends it; 20 req/s is under local's limit


def catches_sigterm(pid: int) -> bool:
    """Python catches SIGINT from its start; SIGTERM only once loadgen's own code has run."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


def long_run(tmp_path: Path) -> tuple[Running, Path]:
    path = write_profile(tmp_path, profile("sig", stages=LONG))
    out = tmp_path / "out.json"
    return start("run", path, "--out", out, "--quiet"), out


def assert_interrupted(run: Running, out: Path, reason: str) -> dict[str, Any]:
    result = run.finish(timeout=60)
    assert result.returncode == 130, result.explain()
    assert "Traceback" not in result.stderr, result.stderr
    assert f"results written to {out}" in result.stderr, result.stderr
    doc = read_checked(out)
    assert doc["status"] == "interrupted"
    assert reason in (doc["status_reason"] or ""), doc["status_reason"]
    return doc


def test_sigint_as_soon_as_loadgen_runs_stops_before_the_first_request(tmp_path: Path) -> None:
    # Python is still importing loadgen's modules (typer, rich, the engine) at this moment:
    # the earliest a program can catch anything. Before that only the interpreter runs.
    run, out = long_run(tmp_path)
    wait_until(lambda: catches_sigterm(run.proc.pid), 30, "loadgen's first handler")
    run.send(signal.SIGINT)
    doc = assert_interrupted(run, out, "interrupted by SIGINT before the first request")
    assert doc["totals"]["sent"] == 0
    assert doc["target"]["url"] == "local://not-started"
    assert doc["generator"]["bottleneck"] is False  # nothing was run


# 0.2 s: importing; 0.5 s: reading the profile / starting the mock; 1 s: mock or engine
@pytest.mark.parametrize("delay_s", [0.2, 0.5, 1.0])
def test_sigint_at_any_moment_of_the_start_exits_130_with_an_artifact(
    tmp_path: Path, delay_s: float
) -> None:
    run, out = long_run(tmp_path)
    time.sleep(delay_s)  # not a timing assertion: whichever phase this lands in must hold
    run.send(signal.SIGINT)
    assert_interrupted(run, out, "interrupted by SIGINT")
    assert embedded_mock_pid(run.proc.pid) is None


def test_second_sigint_while_starting_exits_130_at_once_without_a_traceback(
    tmp_path: Path,
) -> None:
    run, out = long_run(tmp_path)
    wait_until(lambda: catches_sigterm(run.proc.pid), 30, "loadgen's first handler")
    run.send(signal.SIGINT)
    run.send(signal.SIGINT)  # while importing: stop at once, whatever was being done
    result = run.finish(timeout=60)
    assert result.returncode == 130, result.explain()
    assert "Traceback" not in result.stderr, result.stderr
    assert "loadgen: interrupted" in result.stderr
    if out.exists():  # the profile was already loaded: then the run wrote its artifact
        assert read_checked(out)["status"] == "interrupted"


def test_ctrl_c_to_the_process_group_stops_the_run_and_then_the_mock(tmp_path: Path) -> None:
    run, out = long_run(tmp_path)  # start_new_session: its own group, as a terminal's job
    mock = wait_for_requests(run.proc.pid, 10)
    run.last_signal = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    doc = assert_interrupted(run, out, "interrupted by SIGINT")
    totals = doc["totals"]
    # the mock did not get the SIGINT: every request sent was answered by it, none refused
    assert totals["errors"] == totals["unfinished"] == 0, totals
    assert totals["completed"] == totals["sent"] >= 10
    wait_until(lambda: process_ended(mock), 10, "the embedded mock to stop")


def test_sigkill_of_loadgen_never_leaves_the_embedded_mock_running(tmp_path: Path) -> None:
    run, _ = long_run(tmp_path)
    mock = wait_for_requests(run.proc.pid, 5)
    run.proc.send_signal(signal.SIGKILL)  # loadgen alone: the mock is in a session of its own
    run.proc.wait(10)
    try:
        wait_until(lambda: process_ended(mock), 10, f"the orphaned mock {mock} to end")
    finally:
        if not process_ended(mock):
            os.kill(mock, signal.SIGKILL)
    run.finish(timeout=10)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_ctrl_c_in_a_real_terminal_under_tmux(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("tty", stages=LONG))
    out, err, rc, shell = (tmp_path / n for n in ("out.json", "stderr", "rc", "shell.pid"))
    # the console script scripts/demo runs, when installed (its entry point is in the test)
    script = ROOT / ".venv" / "bin" / "loadgen"
    program = str(script) if script.exists() else f"{sys.executable} -m loadgen"
    command = (
        f"echo $$ >{shell}; cd {ROOT}; PYTHONPATH={ROOT} {program} run "
        f"{path} --out {out} 2>{err}; echo $? >{rc}"
    )
    tmux = ["tmux", "-L", f"loadgen-test-{os.getpid()}"]
    subprocess.run([*tmux, "new-session", "-d", "-s", "run", "bash", "-c", command], check=True)
    try:
        wait_until(shell.exists, 30, "the shell in tmux")
        wait_until(lambda: _loadgen_in(shell) is not None, 30, "loadgen in tmux")
        loadgen = _loadgen_in(shell)
        assert loadgen is not None
        mock = wait_for_requests(loadgen, 10)
        subprocess.run([*tmux, "send-keys", "-t", "run", "C-c"], check=True)  # the keyboard
        wait_until(rc.exists, 30, "the run in tmux to exit")
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    assert rc.read_text().strip() == "130", err.read_text()
    assert "Traceback" not in err.read_text()
    doc = read_checked(out)
    assert doc["status"] == "interrupted"
    assert doc["totals"]["errors"] == 0
    wait_until(lambda: process_ended(mock), 10, "the embedded mock to stop")


def _loadgen_in(shell_pid_file: Path) -> int | None:
    text = shell_pid_file.read_text().strip()
    return child_pid(int(text), b"loadgen") if text else None


def test_an_embedded_mock_that_dies_mid_run_is_reported_not_a_crash(tmp_path: Path) -> None:
    # What Ctrl-C used to do to the demo (the mock died first): no traceback, no exit 1.
    path = write_profile(tmp_path, profile("dies", stages=[("2s", 20), ("3s", 20)]))
    out = tmp_path / "out.json"
    run = start("run", path, "--out", out, "--quiet")
    mock = wait_for_requests(run.proc.pid, 10)
    os.kill(mock, signal.SIGKILL)
    result = run.finish(timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 5), result.explain()  # completed, or safety-stopped
    doc = read_checked(out)
    assert doc["totals"]["errors_by_kind"]["refused"] > 0
    observed = doc["target"]["observed"]["difference"]
    assert "the embedded mock did not report its counts" in observed, observed
