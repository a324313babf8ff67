"""Shared helpers for the end-to-end `loadgen run` tests.

Profiles and targets are written as TOML into the test's temp dir; the real CLI runs as
`python -m loadgen ...` in a subprocess, always with a timeout; the artifact is read back
with `loadgen.results.artifact.read_artifact` (which validates it against the shipped schema) and
checked for the accounting identities every artifact must satisfy.

Each CLI process starts in its own session, so a run that outlives its timeout is killed
together with the mock it may have started (`--target local`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomlkit

from loadgen.inputs.targets import LOCAL_CREDENTIALS
from loadgen.results.artifact import read_artifact

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT_S = 60.0
# Named targets read credentials from these environment variables; the values are what the
# embedded mock accepts (any well-formed credential works against fault servers).
CREDENTIAL_ENV = {
    "LG_TEST_TOKEN": LOCAL_CREDENTIALS["token"],
    "LG_TEST_SITE_ID": LOCAL_CREDENTIALS["site_id"],
    "LG_TEST_API_KEY": LOCAL_CREDENTIALS["api_key"],
    "LG_TEST_WRITE_KEY": LOCAL_CREDENTIALS["write_key"],
}
_CREDENTIAL_NAMES = {
    "posthog": {"token": "LG_TEST_TOKEN"},
    "customerio": {"site_id": "LG_TEST_SITE_ID", "api_key": "LG_TEST_API_KEY"},
    "segment": {"write_key": "LG_TEST_WRITE_KEY"},
}


# -- profiles and targets --------------------------------------------------------------


def scenario(name: str, api: str = "posthog", kind: str = "track", **extra: Any) -> dict[str, Any]:
    """One [[scenarios]] table (weight 1 unless given)."""
    return {"name": name, "api": api, "kind": kind, "weight": 1, **extra}


def profile(
    name: str,
    *,
    start_rate: float = 1,
    stages: Sequence[tuple[str, float]] = (("2s", 10),),
    scenarios: Sequence[dict[str, Any]] | None = None,
    timeout: str = "5s",
    max_in_flight: int = 200,
    **top: Any,
) -> dict[str, Any]:
    """A valid profile as a dict; `top` adds or replaces top-level tables (users, retries)."""
    data: dict[str, Any] = {
        "name": name,
        "description": f"end-to-end test profile {name}",
        "apps_enabled": False,
        "load": {
            "model": "arrival-rate",
            "start_rate": start_rate,
            "max_in_flight": max_in_flight,
            "timeout": timeout,
            "stages": [{"duration": d, "target": t} for d, t in stages],
        },
        "users": {"count": 1000, "skew": 0.5, "id_prefix": f"{name}-user-"},
        "scenarios": list(scenarios or [scenario("track")]),
    }
    data.update(top)
    return data


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    return path


def write_profile(directory: Path, data: dict[str, Any]) -> Path:
    return write_toml(directory / f"{data['name']}.toml", data)


def target(
    url: str,
    *,
    api: str = "posthog",
    workspace_rps_limit: float = 100,
    trusted_keys: Sequence[str] = (),
    **guard: Any,
) -> dict[str, Any]:
    """A [targets.NAME] table for a loopback server; `guard` fills its [guard] table."""
    table: dict[str, Any] = {
        "url": url,
        "api": api,
        "transport": "fast",
        "environment": "staging",
        "workspace_rps_limit": workspace_rps_limit,
        "trusted_keys": list(trusted_keys),
        "credentials": _CREDENTIAL_NAMES[api],
    }
    if guard:
        table["guard"] = guard
    return table


def write_targets(directory: Path, **targets: dict[str, Any]) -> Path:
    """targets.toml beside the profiles, where `loadgen run` looks for it."""
    return write_toml(directory / "targets.toml", {"targets": targets})


# -- the CLI in a subprocess -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float  # from the start of the process (or the last signal sent) to its exit

    def explain(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Running:
    """A `python -m loadgen ...` process in its own session; `finish` always reaps it."""

    def __init__(self, args: Sequence[str], cwd: Path, env: dict[str, str] | None) -> None:
        full_env = {**os.environ, **CREDENTIAL_ENV, **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), full_env.get("PYTHONPATH")) if p
        )
        self.started = time.monotonic()
        self.last_signal: float | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loadgen", *args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def send(self, sig: signal.Signals) -> None:
        self.last_signal = time.monotonic()
        self.proc.send_signal(sig)

    def finish(self, timeout: float = DEFAULT_TIMEOUT_S) -> CliResult:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"loadgen did not exit within {timeout} s\n{err}") from None
        since = self.last_signal if self.last_signal is not None else self.started
        return CliResult(self.proc.returncode, out, err, time.monotonic() - since)

    def kill(self) -> None:
        """SIGKILL the process and whatever it started (its session's process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)


def start(*args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Running:
    return Running([str(a) for a in args], cwd, env)


def cli(
    *args: str | Path,
    cwd: Path = ROOT,
    timeout: float = DEFAULT_TIMEOUT_S,
    env: dict[str, str] | None = None,
) -> CliResult:
    """Run `python -m loadgen ARGS` to completion."""
    return start(*args, cwd=cwd, env=env).finish(timeout)


def run_all(runs: Sequence[Running], timeout: float = DEFAULT_TIMEOUT_S) -> list[CliResult]:
    """Finish runs started side by side (kill the rest if one fails to exit)."""
    try:
        return [r.finish(timeout) for r in runs]
    finally:
        for r in runs:
            r.kill()


# -- artifacts and measurements ----------------------------------------------------------


def read_checked(path: Path) -> dict[str, Any]:
    """The artifact, schema-validated, with its accounting identities checked."""
    doc = read_artifact(path)
    totals = doc["totals"]
    assert totals["sent"] == totals["completed"] + totals["errors"] + totals["unfinished"]
    assert sum(totals["status"].values()) == totals["completed"]
    assert sum(totals["errors_by_kind"].values()) == totals["errors"]
    assert sum(s["count"] for s in doc["scenarios"].values()) == totals["sent"]
    return doc


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 50 ms until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def max_in_window(times: Sequence[float], window_s: float = 1.0) -> int:
    """The most timestamps in any half-open window [t, t + window_s) (sliding)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


def expiry(days: int = 7) -> str:
    """An approval expiry date `days` from now (UTC), as `approve sign --expires` takes it."""
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


# -- processes (Linux /proc) ---------------------------------------------------------------


def process_ended(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (a container's init may not): either way ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def child_pid(parent: int, marker: bytes) -> int | None:
    """A child of `parent` with `marker` in its command line, if it has one."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and any(marker in word for word in cmdline):
            return int(entry.name)
    return None


def embedded_mock_pid(parent: int) -> int | None:
    """The `python -m loadgen.mock` child of `parent`, if it has one."""
    return child_pid(parent, b"loadgen.mock")


def listening_port(pid: int) -> int | None:
    """The TCP port process `pid` listens on (IPv4 loopback), from /proc/<pid>/net/tcp."""
    try:
        inodes = {os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()}
        table = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for row in table:
        fields = row.split()
        if fields[3] == "0A" and f"socket:[{fields[9]}]" in inodes:  # 0A = LISTEN
            return int(fields[1].rpartition(":")[2], 16)
    return None


def wait_for_requests(loadgen_pid: int, count: int, timeout: float = 30) -> int:
    """Wait until the run's embedded mock has received `count` requests; its pid."""
    from loadgen.mock.process import admin_request

    def received() -> bool:
        mock = embedded_mock_pid(loadgen_pid)
        port = listening_port(mock) if mock is not None else None
        if port is None:
            return False
        try:
            _, stats = admin_request(f"http://127.0.0.1:{port}", "GET", "/_loadgen/stats")
        except OSError:
            return False
        return int(stats["requests_total"]) >= count

    wait_until(received, timeout, f"{count} requests at the embedded mock")
    mock = embedded_mock_pid(loadgen_pid)
    assert mock is not None
    return mock
