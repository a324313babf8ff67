"""`LocalMock`: the mock in a subprocess, for `--target local` runs and for the tests.

A separate process keeps the mock's CPU off the generator's event loop, and makes a real
SIGTERM exit testable. The child is `python -m loadgen.mock`; it prints its URL once
listening. Stats and fault changes go over a plain blocking HTTP connection to loopback.

Lifetime: the child runs in a session of its own, so a terminal's Ctrl-C (sent to the whole
foreground process group) reaches only loadgen, which stops the mock itself once the
requests in flight are answered. It is asked to stop by closing its stdin, and the same end
of file reaches it when the parent dies however it dies (SIGKILL included); on Linux it also
asks for SIGTERM on its parent's death. It starts with its stop signals blocked (inherited
through exec), so no signal can kill it before its handlers are in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import select
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson

import loadgen
from loadgen import interrupts
from loadgen.mock.config import MockConfig, to_argv
from loadgen.mock.tls import write_self_signed

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class MockStartError(RuntimeError):
    """The mock subprocess did not come up; the message carries its stderr."""


class LocalMock:
    """Context manager: start the mock in a subprocess, expose `.url`, stop it on exit.

    `tls=True` serves HTTPS with a fresh self-signed certificate; `.ca_path` is the file to
    trust. Keyword `overrides` replace fields of `config` (e.g. `rps_limit=50`). Only
    loopback hosts are allowed: this is a local target.
    """

    def __init__(
        self,
        config: MockConfig | None = None,
        *,
        tls: bool = False,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        **overrides: Any,
    ) -> None:
        # `LocalMock(rps_limit=50)` is short for `LocalMock(MockConfig(rps_limit=50))`.
        self.config = dataclasses.replace(config or MockConfig(), **overrides)
        if self.config.host not in LOOPBACK:
            raise ValueError(f"LocalMock listens on loopback only, not {self.config.host!r}")
        self._tls, self._start_timeout, self._stop_timeout = tls, start_timeout, stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.url = ""
        self.ca_path: Path | None = None
        self.returncode: int | None = None

    def __enter__(self) -> LocalMock:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the mock is not running")
        return self._proc.pid

    def start(self) -> None:
        config = self.config
        self._tmp = tempfile.TemporaryDirectory(prefix="loadgen-mock-")
        if self._tls:
            cert, key = write_self_signed(Path(self._tmp.name))
            self.ca_path = cert
            argv_extra = ["--tls-cert", str(cert), "--tls-key", str(key)]
        else:
            argv_extra = []
        argv = [sys.executable, "-m", "loadgen.mock", *to_argv(config), *argv_extra]
        argv.append("--stop-on-stdin-eof")
        if threading.current_thread() is threading.main_thread():
            # PR_SET_PDEATHSIG fires when the forking *thread* ends: only the main thread's
            # end is the process's end.
            argv += ["--parent-pid", str(os.getpid())]
        env = dict(os.environ)
        root = str(Path(loadgen.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        stderr = open(Path(self._tmp.name) / "stderr.log", "wb")  # noqa: SIM115 - child owns it
        # blocked while forking: the child inherits the mask through exec (it unblocks them
        # once its handlers are in place), and a signal meant for us waits a moment
        with stderr, interrupts.held():
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )
        self.url = self._read_url()

    def _read_url(self) -> str:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], self._start_timeout)
        line = proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith(("http://", "https://")):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1.0)  # let a failing child finish its message
            reason = self._stderr().strip() or "no output"
            self.stop()
            raise MockStartError(f"the mock did not start: {reason}")
        return line

    def _stderr(self) -> str:
        if self._tmp is None:
            return ""
        path = Path(self._tmp.name) / "stderr.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> int | None:
        """Close the child's stdin (its cue to stop), SIGKILL after `stop_timeout`; returns
        the exit code. No SIGTERM: one sent while the child is already exiting (after a
        SIGTERM from someone else) would meet the default action and kill it (-15)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            self.returncode = proc.returncode
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return self.returncode

    # -- admin API -----------------------------------------------------------------------

    def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One admin call; (status, decoded JSON body)."""
        return admin_request(self.url, method, path, body, self.ca_path)

    def stats(self) -> dict[str, Any]:
        """The mock's counters (`GET /_loadgen/stats`; shape in `loadgen.mock.stats`)."""
        status, payload = self.request("GET", "/_loadgen/stats")
        if status != 200 or not isinstance(payload, dict):
            raise RuntimeError(f"GET /_loadgen/stats answered {status}")
        return payload

    def reset(self) -> None:
        self.request("POST", "/_loadgen/reset")

    def set_faults(self, **changes: str | float | int | None) -> dict[str, Any]:
        """Change faults at runtime: latency, error_rate, stall, reset_rate (None clears), seed."""
        status, payload = self.request("POST", "/_loadgen/faults", changes)
        if status != 200 or not isinstance(payload, dict):
            message = payload.get("error") if isinstance(payload, dict) else payload
            raise ValueError(f"the mock refused the faults: {message}")
        return payload


def admin_request(
    url: str, method: str, path: str, body: object = None, ca_path: Path | None = None
) -> tuple[int, Any]:
    """A blocking JSON request to a mock on loopback: (status, decoded body or None)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in LOOPBACK:
        raise ValueError(f"admin requests go to loopback only, not {host!r}")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
        conn = http.client.HTTPSConnection(host, port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, orjson.loads(raw) if raw else None
    finally:
        conn.close()
