#!/usr/bin/env python3
"""Quick micro-benchmark of a transport: N concurrent senders in a closed loop, one core.

Starts Debian's nginx on loopback (one worker pinned to core 1, `return 200`), pins this
process to core 0, sends a ~315-byte PostHog capture POST from `--concurrency` tasks for
`--seconds` after a 1 s warm-up, and prints req/s and client CPU µs per request. With
`--url` it drives that server instead (loopback only). With `--wrk`, wrk runs the same
request for a side-by-side ratio. An informal number, not a test: see BENCHMARKS.md.

    .venv/bin/python scripts/bench_transport.py [--transport fast|httpx] [--loop uvloop|asyncio]
        [--concurrency 64] [--seconds 5] [--runs 3] [--wrk] [--url http://127.0.0.1:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadgen.transport import RequestSpec, TransportError  # noqa: E402 - after path fix
from loadgen.transport.factory import TransportChoice, make_transport  # noqa: E402

EVENT = (
    b'{"api_key":"phc_benchmark_token_0123456789abcdef","event":"$pageview",'
    b'"distinct_id":"user-000123456","properties":{"$current_url":"https://example.com/pricing",'
    b'"$browser":"Chrome","$os":"Mac OS X","$lib":"loadgen","plan":"pro"},'
    b'"timestamp":"2024-05-01T12:00:00.000Z","uuid":"0190f3c2-7a1b-7c3d-9e4f-5a6b7c8d9e10"}'
)
REQUEST = RequestSpec("POST", "/i/v0/e/", (("Content-Type", "application/json"),), EVENT)
NGINX_CONF = """worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; keepalive_requests 1000000;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 '{{"status":1}}'; }} }} }}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def nginx() -> Iterator[str]:
    """nginx on a free loopback port, pinned to core 1 when taskset exists."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp, "nginx.conf")
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
        cmd = [*pin, binary, "-e", f"{tmp}/error.log", "-c", str(conf), "-g", "daemon off;"]
        proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(5)


def wait_listening(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nginx did not start")


async def closed_loop(
    url: str, kind: TransportChoice, concurrency: int, seconds: float
) -> tuple[int, int]:
    """(requests completed, errors) in `seconds` after a 1 s warm-up."""
    transport = make_transport(url, kind, max_connections=concurrency, timeout_s=10.0)
    counts = [0, 0]
    measuring = False
    stop_at = asyncio.get_running_loop().time() + 1.0 + seconds

    async def sender() -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < stop_at:
            try:
                await transport.send(REQUEST)
                counts[0] += measuring
            except TransportError:
                counts[1] += 1

    tasks = [asyncio.ensure_future(sender()) for _ in range(concurrency)]
    await asyncio.sleep(1.0)
    measuring = True
    await asyncio.gather(*tasks)
    await transport.aclose()
    return counts[0], counts[1]


def run_once(url: str, args: argparse.Namespace) -> tuple[float, float]:
    """(req/s, client CPU µs per request) for one run."""
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        done, errors = runner.run(closed_loop(url, args.transport, args.concurrency, args.seconds))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if errors:
        print(f"  ({errors} transport errors)")
    total_estimate = done * wall / args.seconds  # warm-up requests included in CPU time
    return done / args.seconds, cpu / max(total_estimate, 1) * 1e6


def run_wrk(url: str, args: argparse.Namespace) -> float | None:
    if not shutil.which("wrk"):
        return None
    lua = 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    lua += f"wrk.body = [[{EVENT.decode()}]]\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua)
        script.flush()
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        cmd = [*pin, "wrk", "-t1", f"-c{args.concurrency}", f"-d{args.seconds:g}s"]
        out = subprocess.run([*cmd, "-s", script.name, url + "/i/v0/e/"], capture_output=True)
    for line in out.stdout.decode().splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["fast", "httpx"], default="fast")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wrk", action="store_true", help="also run wrk for a ratio")
    parser.add_argument("--url", help="an already running loopback server")
    args = parser.parse_args()
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("--url must be a loopback address")
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    with nginx() if args.url is None else _given(args.url) as url:
        rates, cpus, wrk = [], [], []
        for run in range(args.runs):
            rate, cpu = run_once(url, args)
            rates.append(rate)
            cpus.append(cpu)
            line = f"run {run + 1}: {rate:,.0f} req/s, {cpu:.1f} µs CPU/request"
            if args.wrk and (wrk_rate := run_wrk(url, args)) is not None:
                wrk.append(wrk_rate)
                line += f"; wrk {wrk_rate:,.0f} req/s"
            print(line)
    summary = f"{args.transport}/{args.loop} c={args.concurrency}: median "
    summary += f"{statistics.median(rates):,.0f} req/s "
    summary += f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
    summary += f", {statistics.median(cpus):.1f} µs CPU/request"
    if wrk:
        summary += f"; wrk median {statistics.median(wrk):,.0f} req/s"
        summary += f" (ratio {statistics.median(rates) / statistics.median(wrk):.2f})"
    print(summary)


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    main()
