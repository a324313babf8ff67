"""Shared pieces of the benchmark scripts (BENCHMARKS.md): a loopback nginx started from a
temporary config, core pinning, wrk, loadgen runs with a benchmark target, /proc sampling,
and the pure helpers the tests cover (output parsers, per-second windows, the rate search,
the "sustained" verdict, tables).

Everything talks to 127.0.0.1 only, and every subprocess is waited for with a timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
PATH = "/i/v0/e/"
BENCH_TOKEN = "phc_benchmark_token_0123456789abcdef"
TOKEN_ENV = "LOADGEN_BENCH_TOKEN"
# The ~315-byte PostHog capture event wrk and Locust send (loadgen builds its own, per
# request, with the same properties: see `flat_profile_toml`).
EVENT = (
    b'{"api_key":"' + BENCH_TOKEN.encode() + b'","event":"$pageview",'
    b'"distinct_id":"user-000123456","properties":{"$current_url":"https://example.com/pricing",'
    b'"$browser":"Chrome","$os":"Mac OS X","$lib":"loadgen","plan":"pro"},'
    b'"timestamp":"2024-05-01T12:00:00.000Z","uuid":"0190f3c2-7a1b-7c3d-9e4f-5a6b7c8d9e10"}'
)

# --- the machine -------------------------------------------------------------------------


def on_sigterm_raise_interrupt() -> None:
    """Treat SIGTERM like Ctrl-C, so `finally` blocks stop nginx either way."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cpu_model(cpuinfo: str | None = None) -> str:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return match.group(1).strip() if match else "unknown"


def machine_line() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, CPU {cpu_model()}, Python {sys.version.split()[0]}, "
        f"load average before the run {load}"
    )


def pin(core: int | None) -> list[str]:
    """A `taskset -c CORE` prefix, or nothing when taskset or that core is missing."""
    if core is None or shutil.which("taskset") is None or core >= (os.cpu_count() or 1):
        return []
    return ["taskset", "-c", str(core)]


def children_cpu_s() -> float:
    """CPU seconds of every child that has exited and been waited for (getrusage)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def wait_listening(port: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"nothing listens on {HOST}:{port} after {timeout_s} s"
                ) from None
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


# --- nginx -------------------------------------------------------------------------------

NGINX_CONF = """worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{ {log} keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen {host}:{port}; location / {{ return 200 '{{"status":1}}'; }} }} }}
"""
# $msec is the time the request finished (log write), with millisecond resolution.
MSEC_LOG = "log_format msec '$msec'; access_log {tmp}/access.log msec buffer=256k flush=1s;"


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None


def nginx_or_explain() -> str | None:
    """nginx's path, or None after saying that nothing can be measured without it."""
    binary = find_nginx()
    if binary is None:
        print("nginx is not installed (Debian: apt-get install nginx-light): nothing measured")
    return binary


@dataclass(slots=True)
class Nginx:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path | None  # the $msec access log, when asked for

    def stop(self) -> None:
        """Stop nginx (idempotent); a stopped nginx has flushed its access log."""
        stop_process(self.proc)


@contextlib.contextmanager
def nginx(binary: str, *, core: int | None = 1, msec_log: bool = False) -> Iterator[Nginx]:
    """nginx on a free loopback port from a temp config, one worker pinned to `core`.

    It runs in its own session, so Ctrl-C reaches only this script, whose `finally` stops it.
    """
    with tempfile.TemporaryDirectory(prefix="loadgen-nginx-") as tmp:
        port = free_port()
        log = MSEC_LOG.format(tmp=tmp) if msec_log else "access_log off;"
        conf = Path(tmp, "nginx.conf")
        conf.write_text(NGINX_CONF.format(tmp=tmp, log=log, host=HOST, port=port))
        cmd = [*pin(core), binary, "-e", f"{tmp}/error.log", "-c", str(conf), "-g", "daemon off;"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        server = Nginx(f"http://{HOST}:{port}", proc, Path(tmp, "access.log") if msec_log else None)
        try:
            wait_listening(port)
            yield server
        finally:
            server.stop()


# --- wrk ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    errors: int  # socket errors + non-2xx/3xx responses


def wrk_lua(body: bytes) -> str:
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{body.decode()}]]\n"
    )


def parse_wrk(text: str) -> WrkResult:
    """Read wrk's summary ("N requests in 10.00s, …", "Requests/sec: X", error lines)."""
    done = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)\b", text, re.M)
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    if done is None or rate is None:
        raise ValueError(f"not a wrk summary: {text[-300:]!r}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    errors = 0
    if sock := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        errors += sum(int(g) for g in sock.groups())
    if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        errors += int(bad.group(1))
    return WrkResult(int(done.group(1)), float(done.group(2)) * scale, float(rate.group(1)), errors)


# --- loadgen -----------------------------------------------------------------------------


def targets_toml(name: str, url: str, *, max_connections: int = 64) -> str:
    """A loopback benchmark target whose guard accepts flat, fast, long profiles.

    `spike_floor_rps` at the maximum makes no profile a spike (a flat profile starts at its
    peak, which the guard otherwise refuses); the other limits are lifted for the same reason.
    """
    return f"""[targets.{name}]
url = "{url}"
api = "posthog"
environment = "local"
transport = "fast"
workspace_rps_limit = 1000000
max_connections = {max_connections}
credentials = {{ token = "{TOKEN_ENV}" }}

[targets.{name}.guard]
max_start_fraction = 1.0
max_slope_rps_per_s = 1000000
spike_floor_rps = 1000000
hot_user_events_per_s = 1000000
identify_alias_share = 1.0
max_duration = "24h"
max_total_events = 1000000000000
safety_error_ratio = 1.0
"""


PROFILE = """name = "{name}"
description = "benchmark"
apps_enabled = false
[load]
model = "arrival-rate"
start_rate = {start_rate:g}
max_in_flight = {max_in_flight}
timeout = "5s"
{stages}[users]
count = 100000
skew = 0.0
id_prefix = "user-"
[[scenarios]]
name = "track"
api = "posthog"
kind = "track"
weight = 1
events = ["$pageview"]
properties = {{ "$current_url" = "https://example.com/pricing", "$browser" = "Chrome", \
"$os" = "Mac OS X", plan = "pro" }}
"""


def profile_toml(
    name: str, start_rate: float, stages: Sequence[tuple[float, float]], max_in_flight: int
) -> str:
    """A single-scenario PostHog `track` profile (the same properties as `EVENT`)."""
    text = "".join(f'[[load.stages]]\nduration = "{s:g}s"\ntarget = {r:g}\n' for s, r in stages)
    return PROFILE.format(
        name=name, start_rate=start_rate, max_in_flight=max_in_flight, stages=text
    )


def loadgen_command(
    profile: Path, targets: Path, out: Path, core: int | None, extra: Sequence[str] = ()
) -> list[str]:
    run = ["run", str(profile), "--target", "bench", "--targets", str(targets), *extra]
    return [*pin(core), sys.executable, "-m", "loadgen", *run, "--out", str(out), "--quiet"]


@dataclass(slots=True)
class Sample:
    t: float  # seconds since the process started
    rss_kb: int
    cpu_s: float


@dataclass(slots=True)
class LoadgenRun:
    doc: dict[str, Any]
    cpu_s: float  # the whole process, from getrusage (imports and start-up included)
    wall_s: float
    spawned_at: float  # time.time() when the process was started (samples count from here)
    samples: list[Sample] = field(default_factory=list)


def run_loadgen(
    profile: Path,
    targets: Path,
    out: Path,
    *,
    core: int | None,
    timeout_s: float,
    extra: Sequence[str] = (),  # more options of `loadgen run` (e.g. --workers 2)
) -> LoadgenRun:
    """Run loadgen to completion (bounded), sampling its RSS and CPU every 0.5 s."""
    env = {**os.environ, TOKEN_ENV: BENCH_TOKEN}
    cpu0, wall0, spawned_at = children_cpu_s(), time.perf_counter(), time.time()
    proc = subprocess.Popen(
        loadgen_command(profile, targets, out, core, extra),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sampler = ProcSampler(proc.pid, 0.5)
    sampler.start()
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except BaseException:
        stop_process(proc, 10.0)
        raise
    finally:
        sampler.stop()
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"loadgen exited {proc.returncode}: {err.decode()[-2000:]}")
    doc = orjson.loads(out.read_bytes())
    wall = time.perf_counter() - wall0
    return LoadgenRun(doc, children_cpu_s() - cpu0, wall, spawned_at, sampler.samples)


# --- /proc sampling ----------------------------------------------------------------------


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """Per core: (busy ticks, all ticks) from /proc/stat; idle and iowait are not busy."""
    cores = {}
    for match in re.finditer(r"^cpu(\d+) ((?:\s*\d+){8})", text, re.M):
        ticks = [int(x) for x in match.group(2).split()]
        total = sum(ticks)
        cores[int(match.group(1))] = (total - ticks[3] - ticks[4], total)
    return cores


def core_busy(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> dict[int, float]:
    """Each core's busy share (0..1) between two /proc/stat readings, whoever used it."""
    shares = {}
    for core, (busy, total) in after.items():
        busy0, total0 = before.get(core, (0, 0))
        shares[core] = (busy - busy0) / (total - total0) if total > total0 else 0.0
    return shares


@contextlib.contextmanager
def core_meter() -> Iterator[dict[int, float]]:
    """Yields a dict filled on exit with each core's busy share over the block."""
    shares: dict[int, float] = {}
    before = parse_proc_stat(Path("/proc/stat").read_text())
    try:
        yield shares
    finally:
        shares.update(core_busy(before, parse_proc_stat(Path("/proc/stat").read_text())))


def format_cores(shares: dict[int, float]) -> str:
    return ", ".join(f"core {c} {share * 100:.0f} %" for c, share in sorted(shares.items()))


def parse_status_kb(text: str, key: str = "VmRSS") -> int | None:
    match = re.search(rf"^{key}:\s*(\d+)\s*kB", text, re.M)
    return int(match.group(1)) if match else None


def parse_stat_cpu_ticks(text: str) -> int:
    """utime + stime (fields 14 and 15) of /proc/PID/stat; the name may hold spaces."""
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


class ProcSampler(threading.Thread):
    """Samples a process's VmRSS and CPU time until it exits or `stop()` is called."""

    def __init__(self, pid: int, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval_s = pid, interval_s
        self.samples: list[Sample] = []
        self._done = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        start = time.monotonic()
        while not self._done.is_set():
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                stat = Path(f"/proc/{self.pid}/stat").read_text()
            except OSError:
                return
            rss = parse_status_kb(status)
            if rss is None:  # a zombie has no VmRSS
                return
            cpu = parse_stat_cpu_ticks(stat) / self._tick
            self.samples.append(Sample(time.monotonic() - start, rss, cpu))
            self._done.wait(self.interval_s)

    def stop(self) -> None:
        self._done.set()
        self.join(2.0)


# --- pure helpers: verdicts, tables ------------------------------------------------------


def sustained(doc: dict[str, Any]) -> tuple[bool, list[str]]:
    """Did a flat run hold its rate? Reasons for a "no", in plain words."""
    totals, gen = doc["totals"], doc["generator"]
    reasons = []
    if doc["status"] != "completed":
        reasons.append(f"status {doc['status']}")
    if totals["achieved_rps"] < 0.98 * totals["planned_rps"]:
        reasons.append(f"achieved {totals['achieved_rps']:,.0f} < 98 % of planned")
    if totals["dropped"] > 0.001 * max(totals["planned"], 1):
        reasons.append(f"dropped {totals['dropped']:,} > 0.1 %")
    lag_p99 = gen["lag_ms"]["p99"]
    if lag_p99 is not None and lag_p99 > 10:
        reasons.append(f"lag p99 {lag_p99:.1f} ms > 10 ms")
    if gen["bottleneck"]:
        reasons.append("generator bottleneck flagged")
    if totals["errors"]:
        reasons.append(f"{totals['errors']:,} transport errors")
    return not reasons, reasons


def cpu_us_per_request(doc: dict[str, Any]) -> float:
    """loadgen's own CPU during the run (the artifact's cpu_percent × duration) / completed."""
    cpu_s = float(doc["generator"]["cpu_percent"]) / 100 * float(doc["duration_s"])
    return cpu_s / max(int(doc["totals"]["completed"]), 1) * 1e6


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join([line, rule, *body])


def shell(cmd: Sequence[str]) -> str:
    """A command as one copy-pasteable line."""
    return " ".join(shlex.quote(part) for part in cmd)
