#!/usr/bin/env python3
"""Measure the mock's capacity on one core: wrk POSTs a ~315-byte PostHog event to /i/v0/e/.

The mock runs pinned to core 1 (`taskset -c 1`, when taskset exists), wrk to core 0, with
64 keep-alive connections, after a short warm-up; several runs, median reported. The
per-workspace rate limit is off (`--rps-limit 0`) so every request is fully validated and
counted: the mock's real work, not its 429 shortcut. Prints a table, the commands, the
machine, and the mock's own CPU time per request (from /proc). Goal: >= 20,000 req/s.

    .venv/bin/python scripts/bench_mock.py [--runs 3] [--duration 10] [--connections 64]

Needs Debian's `wrk` (`apt-get install -y wrk`); without it, says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadgen.mock.config import MockConfig  # noqa: E402 - after the path fix above
from loadgen.mock.process import LocalMock  # noqa: E402

EVENT = (
    '{"api_key":"phc_benchmark_token_0123456789abcdef","event":"$pageview",'
    '"distinct_id":"user-000123456","properties":{"$current_url":"https://example.com/pricing",'
    '"$browser":"Chrome","$os":"Mac OS X","$lib":"loadgen","plan":"pro"},'
    '"timestamp":"2024-05-01T12:00:00.000Z","uuid":"0190f3c2-7a1b-7c3d-9e4f-5a6b7c8d9e10"}'
)
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""


def _pin(core: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if shutil.which("taskset") else argv


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[list[str], str]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(_pin(0, argv), capture_output=True, text=True, check=True).stdout
    return argv, out


def _field(pattern: str, text: str, default: float = 0.0) -> float:
    match = re.search(pattern, text)
    return float(match.group(1)) if match else default


def _machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {sys.version.split()[0]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed; install it (apt-get install -y wrk) to run this benchmark.")
        return 0
    with tempfile.TemporaryDirectory() as tmp, LocalMock(MockConfig(rps_limit=0)) as mock:
        if shutil.which("taskset"):
            subprocess.run(["taskset", "-cp", "1", str(mock.pid)], capture_output=True, check=True)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=EVENT))
        url = f"{mock.url}/i/v0/e/"
        _wrk(url, script, 1, args.connections)  # warm-up
        rows = []
        for run in range(1, args.runs + 1):
            cpu_before, served_before = _cpu_seconds(mock.pid), mock.stats()["requests_total"]
            argv, out = _wrk(url, script, args.duration, args.connections)
            cpu = _cpu_seconds(mock.pid) - cpu_before
            served = mock.stats()["requests_total"] - served_before
            rate = _field(r"Requests/sec:\s+([\d.]+)", out)
            errors = int(_field(r"Non-2xx or 3xx responses:\s+(\d+)", out))
            rows.append(
                (run, rate, errors, served, cpu / max(served, 1) * 1e6, cpu / args.duration)
            )
        accepted = mock.stats()["apis"]["posthog"]["events"]
    _report(rows, argv, accepted, args)
    return 0


def _report(
    rows: list[tuple[int, float, int, int, float, float]],
    argv: list[str],
    accepted: int,
    args: argparse.Namespace,
) -> None:
    print(f"loadgen mock capacity, POST /i/v0/e/ with a {len(EVENT)}-byte PostHog event")
    print(f"machine: {_machine()}")
    pin = " (then taskset -cp 1 PID)" if shutil.which("taskset") else ""
    print(f"mock:    python -m loadgen.mock --rps-limit 0{pin}")
    print(f"client:  {' '.join(_pin(0, argv))}")
    print()
    print(
        f"{'run':>3}  {'req/s (wrk)':>12}  {'non-2xx':>8}  {'answered':>10}  "
        f"{'mock CPU us/req':>15}  {'mock CPU':>8}  {'req/s at 1 core':>15}"
    )
    for run, rate, errors, served, us, share in rows:
        print(
            f"{run:>3}  {rate:>12,.0f}  {errors:>8}  {served:>10,}  {us:>15.1f}  "
            f"{share:>7.0%}  {1e6 / us:>15,.0f}"
        )
    rates, capacity = [r[1] for r in rows], [1e6 / r[4] for r in rows]
    print()
    print(
        f"measured: median {statistics.median(rates):,.0f} req/s (min {min(rates):,.0f}, "
        f"max {max(rates):,.0f}) over {args.runs} x {args.duration}s; goal >= 20,000 req/s"
    )
    print(
        f"one full core of mock CPU would serve ~{statistics.median(capacity):,.0f} req/s "
        "(1e6 / CPU us per request). When `mock CPU` is well under 100%,"
    )
    print("the client or a busy machine, not the mock, limited the measured rate.")
    print(f"events accepted and counted by the mock: {accepted:,}")


if __name__ == "__main__":
    sys.exit(main())
