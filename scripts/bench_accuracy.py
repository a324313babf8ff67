#!/usr/bin/env python3
"""Does loadgen send what it planned, second by second? And does its memory stay flat?

1. Ramp: 0 -> `--peak` req/s over `--ramp` s, then `--hold` s at the peak, against nginx
   logging `$msec` per request (one worker pinned to core 1; loadgen pinned to core 0).
   nginx's timestamps are binned into seconds aligned on the first request (its planned
   offset is known), and each full second is compared with the plan (the schedule's
   `count_by` differences). Goal: every full second within ±1 % or ±2 requests of plan,
   and the total exact.
2. Memory, "1-hour-equivalent": `--memory-requests` (default 3,600,000 = one hour at
   1,000 req/s) sent flat at `--memory-rate`, with loadgen's VmRSS sampled every 0.5 s;
   "flat" = at most +4 MiB or +5 % from a quarter of the run to its end.

    .venv/bin/python scripts/bench_accuracy.py [--peak 20000] [--ramp 20] [--hold 10]
        [--memory-requests 3600000] [--memory-rate 10000] [--no-ramp] [--no-memory]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as b  # the scripts directory is not a package

from loadgen.arrivals.plan import schedule_of
from loadgen.arrivals.schedule import Schedule
from loadgen.inputs.profile import load_profile

CLIENT_CORE, SERVER_CORE = 0, 1
MIB = 1024


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peak", type=float, default=20_000.0, help="ramp peak, req/s")
    p.add_argument("--ramp", type=float, default=20.0, help="seconds from 0 to the peak")
    p.add_argument("--hold", type=float, default=10.0, help="seconds at the peak")
    # 1,024 in flight holds ~50 ms of arrivals at 20,000 req/s: a scheduling hiccup of the
    # shared VM (10-30 ms, seen here) is absorbed instead of turning into drops.
    p.add_argument("--max-in-flight", type=int, default=1024)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--memory-requests", type=int, default=3_600_000)
    p.add_argument("--memory-rate", type=float, default=10_000.0)
    p.add_argument("--no-ramp", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    args = p.parse_args()
    if args.memory_rate <= 0 or args.memory_requests <= 0 or args.peak <= 0 or args.hold < 0:
        p.error("rates, counts and durations must be positive")
    seconds = args.memory_requests / args.memory_rate
    if not 0 < args.ramp + args.hold <= 600 or not 0 < seconds <= 1800:
        p.error("keep the ramp + hold within 600 s and the memory run within 1800 s")
    return args


def main() -> int:
    args = parse_args()
    b.on_sigterm_raise_interrupt()
    binary = b.nginx_or_explain()
    if binary is None:
        return 0
    print(b.machine_line(), flush=True)
    if not args.no_ramp:
        ramp_check(binary, args)
    if not args.no_memory:
        memory_check(binary, args)
    print(f"\nthis benchmark: `{b.shell([sys.executable, *sys.argv])}`")
    return 0


# --- pure helpers: the per-second windows ------------------------------------------------


def value_at(points: Sequence[tuple[float, float]], t: float) -> float | None:
    """Linear interpolation in (time, value) points sorted by time; None outside them."""
    if not points or not points[0][0] <= t <= points[-1][0]:
        return None
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def per_second_rate(
    points: Sequence[tuple[float, float]], origin: float, seconds: int
) -> list[float | None]:
    """How much a cumulative value (e.g. CPU seconds) grew in each [origin + k, origin + k + 1)."""
    rates: list[float | None] = []
    for k in range(seconds):
        low, high = value_at(points, origin + k), value_at(points, origin + k + 1)
        rates.append(None if low is None or high is None else high - low)
    return rates


def parse_msec_log(text: str) -> list[float]:
    """Timestamps (seconds) of an nginx `$msec` log, one per line; blank lines ignored."""
    return [float(line) for line in text.split() if line]


def per_second_counts(times: Sequence[float], origin: float, seconds: int) -> list[int]:
    """Counts in the windows [origin + k, origin + k + 1) for k < seconds; others ignored.

    A 1e-6 s nudge keeps a time printed with 3 decimals in the window it belongs to.
    """
    counts = [0] * seconds
    for t in times:
        k = int((t - origin + 1e-6) // 1)
        if 0 <= k < seconds:
            counts[k] += 1
    return counts


@dataclass(frozen=True, slots=True)
class SecondCheck:
    second: int
    planned: int
    observed: int

    @property
    def diff(self) -> int:
        return self.observed - self.planned

    def allowed(self, percent: float = 1.0, requests: int = 2) -> float:
        return max(float(requests), self.planned * percent / 100)

    def within(self, percent: float = 1.0, requests: int = 2) -> bool:
        return abs(self.diff) <= self.allowed(percent, requests)


def compare_seconds(planned: Sequence[int], observed: Sequence[int]) -> list[SecondCheck]:
    return [SecondCheck(k, p, o) for k, (p, o) in enumerate(zip(planned, observed, strict=True))]


def worst_second(checks: Sequence[SecondCheck]) -> SecondCheck | None:
    """The second whose deviation is largest relative to its allowance."""
    return max(checks, key=lambda c: abs(c.diff) / c.allowed(), default=None)


# --- the ramp ----------------------------------------------------------------------------


def ramp_check(binary: str, args: argparse.Namespace) -> None:
    stages = (
        [(args.ramp, args.peak), (args.hold, args.peak)] if args.hold else [(args.ramp, args.peak)]
    )
    with (
        tempfile.TemporaryDirectory(prefix="loadgen-acc-") as tmpdir,
        b.nginx(binary, core=SERVER_CORE, msec_log=True) as server,
    ):
        tmp = Path(tmpdir)
        targets, profile, out = tmp / "targets.toml", tmp / "ramp.toml", tmp / "ramp.json"
        targets.write_text(b.targets_toml("bench", server.url, max_connections=args.connections))
        profile.write_text(b.profile_toml("bench-ramp", 0, stages, args.max_in_flight))
        schedule = schedule_of(load_profile(profile))
        print(f"\n## Ramp 0 -> {args.peak:,.0f} req/s in {args.ramp:g} s, hold {args.hold:g} s\n")
        print(f"profile:\n```toml\n{profile.read_text()}```\n", flush=True)
        command = b.shell(b.loadgen_command(profile, targets, out, CLIENT_CORE))
        run = b.run_loadgen(
            profile, targets, out, core=CLIENT_CORE, timeout_s=schedule.duration_s * 3 + 120
        )
        server.stop()  # flushes the buffered access log
        assert server.log is not None
        times = parse_msec_log(server.log.read_text())
        nginx_cmd = b.shell(server.proc.args if isinstance(server.proc.args, list) else [])
    analyse_ramp(schedule, times, run)
    print(f"\nnginx: `{nginx_cmd}` (access log `$msec`)\n\nloadgen: `{command}`")


def analyse_ramp(schedule: Schedule, times: list[float], run: b.LoadgenRun) -> None:
    doc, seconds = run.doc, int(schedule.duration_s)
    if not times:
        print("nginx logged no request: nothing to compare")
        return
    first_offset = next(schedule.offsets())[1]
    origin = min(times) - first_offset  # nginx's clock at the run's offset 0
    planned = [schedule.count_by(k + 1) - schedule.count_by(k) for k in range(seconds)]
    checks = compare_seconds(planned, per_second_counts(times, origin, seconds))
    cpu = cpu_by_second(run, seconds)
    series = {row["t"]: row for row in doc["series"]}
    rows = []
    for c in checks:
        row = series.get(c.second, {})
        pct = f"{c.diff / c.planned * 100:+.2f} %" if c.planned else "–"
        share = cpu[c.second]
        rows.append(
            [
                str(c.second),
                f"{c.planned:,}",
                f"{c.observed:,}",
                f"{c.diff:+,}",
                pct,
                "ok" if c.within() else "OUT",
                f"{row.get('dropped', 0):,}",
                "–" if row.get("p99_ms") is None else f"{row['p99_ms']:.2f}",
                "–" if share is None else f"{share * 100:.0f} %",
            ]
        )
    headers = ["s", "planned", "nginx saw", "diff", "diff %", "±1 %/±2", "dropped", "p99 ms", "CPU"]
    print(b.markdown_table(headers, rows))
    summarise_ramp(schedule, checks, len(times), doc)


def summarise_ramp(
    schedule: Schedule, checks: list[SecondCheck], seen: int, doc: dict[str, Any]
) -> None:
    bad = [c for c in checks if not c.within()]
    totals, gen = doc["totals"], doc["generator"]
    print(
        f"\n- full seconds compared: {len(checks)}; within ±1 % or ±2 requests: "
        f"{len(checks) - len(bad)}; outside: {len(bad)}"
    )
    worst = worst_second(checks)
    if worst is not None:
        pct = abs(worst.diff) / max(worst.planned, 1) * 100
        print(
            f"- worst full second: t={worst.second} s, planned {worst.planned:,}, nginx saw "
            f"{worst.observed:,} ({worst.diff:+,}, {pct:.2f} %; allowed ±{worst.allowed():.0f})"
        )
    exact = seen == schedule.total_requests
    print(
        f"- total: planned {schedule.total_requests:,}, nginx saw {seen:,}, loadgen sent "
        f"{totals['sent']:,}, dropped {totals['dropped']:,} -> "
        f"{'exact' if exact else f'NOT exact ({seen - schedule.total_requests:+,})'}"
    )
    lag = gen["lag_ms"]
    print(
        f"- scheduler lag p50 {lag['p50']} / p99 {lag['p99']} / max {lag['max']} ms; "
        f"loadgen CPU {gen['cpu_percent']:.0f} % of a core over the run; bottleneck flagged: "
        f"{gen['bottleneck']}"
    )
    verdict = "MET" if not bad and exact else "NOT met"
    print(f"- goal (every full second within ±1 % or ±2 requests, total exact): {verdict}")
    if bad:
        first = bad[0]
        rate = schedule.rate_at(first.second)
        print(f"- first second outside: t={first.second} s, where the plan is ~{rate:,.0f} req/s")


def cpu_by_second(run: b.LoadgenRun, seconds: int) -> list[float | None]:
    """loadgen's CPU share of each second of the schedule, from the /proc samples."""
    started = datetime.fromisoformat(run.doc["started_at"].replace("Z", "+00:00")).timestamp()
    points = [(s.t, s.cpu_s) for s in run.samples]
    return per_second_rate(points, started - run.spawned_at, seconds)


# --- memory ------------------------------------------------------------------------------


def memory_check(binary: str, args: argparse.Namespace) -> None:
    seconds = args.memory_requests / args.memory_rate
    print(
        f"\n## Memory: {args.memory_requests:,} requests at {args.memory_rate:,.0f} req/s "
        f"({seconds:,.0f} s)\n"
    )
    per_hour = args.memory_requests / 3600
    print(
        f'"1-hour-equivalent": {args.memory_requests:,} requests is what one hour at '
        f"{per_hour:,.0f} req/s sends. Anything loadgen kept per request (a leak, a buffer "
        "never flushed, state of finished arrivals) would grow here as much as in that "
        "hour; what grows with wall-clock time instead (one series row and one per-second "
        "latency histogram per second) is measured below from the artifact.\n",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="loadgen-mem-") as tmpdir,
        b.nginx(binary, core=SERVER_CORE) as server,
    ):
        tmp = Path(tmpdir)
        targets, profile, out = tmp / "targets.toml", tmp / "flat.toml", tmp / "flat.json"
        targets.write_text(b.targets_toml("bench", server.url, max_connections=args.connections))
        rate = args.memory_rate
        profile.write_text(
            b.profile_toml("bench-memory", rate, [(seconds, rate)], args.max_in_flight)
        )
        command = b.shell(b.loadgen_command(profile, targets, out, CLIENT_CORE))
        run = b.run_loadgen(profile, targets, out, core=CLIENT_CORE, timeout_s=seconds * 2 + 120)
        artifact_bytes = out.stat().st_size
    analyse_memory(run, seconds, artifact_bytes)
    print(
        f"\nloadgen: `{command}` (profile: flat {rate:g} req/s for {seconds:g} s, "
        "otherwise as the ramp's)"
    )


def analyse_memory(run: b.LoadgenRun, seconds: float, artifact_bytes: int) -> None:
    doc = run.doc
    started = datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00")).timestamp()
    offset = started - run.spawned_at
    points = [(s.t, float(s.rss_kb)) for s in run.samples]
    rows, marks = [], (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
    at: dict[float, float] = {}
    for frac in marks:
        rss = value_at(points, offset + frac * seconds)
        if rss is None:  # the last sample may come just before the end
            rss = points[-1][1] if frac == 1.0 and points else None
        if rss is not None:
            at[frac] = rss
            rows.append([f"{frac * 100:.0f} %", f"{frac * seconds:,.1f}", f"{rss / MIB:,.1f}"])
    print(b.markdown_table(["of the run", "s", "VmRSS MiB"], rows))
    ok, reasons = b.sustained(doc)
    totals = doc["totals"]
    print(
        f"\n- the run: sent {totals['sent']:,}, dropped {totals['dropped']:,}, "
        f"{'sustained' if ok else 'NOT sustained: ' + '; '.join(reasons)}"
    )
    if 0.25 in at and 1.0 in at:
        growth = at[1.0] - at[0.25]
        per_million = growth / max(totals["sent"] * 0.75, 1) * 1e6
        flat = growth <= max(4 * MIB, 0.05 * at[0.25])
        print(
            f"- VmRSS from 25 % to the end: {growth / MIB:+.1f} MiB "
            f"({per_million / MIB:+.2f} MiB per million requests) -> "
            f"{'flat' if flat else 'NOT flat'} (flat: at most +4 MiB or +5 %)"
        )
        print(f"- peak VmRSS {max(v for _, v in points) / MIB:,.1f} MiB")
    rows_n = max(len(doc["series"]), 1)
    per_s = (
        len(orjson.dumps(doc["series"])) + len(orjson.dumps(doc["series_histograms"]))
    ) / rows_n
    print(
        f"- time-based growth: the series row and latency histogram of one second take "
        f"~{per_s:,.0f} bytes of JSON (an hour: ~{per_s * 3600 / 1e6:,.1f} MB); the whole "
        f"artifact of this run: {artifact_bytes:,} bytes"
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: nginx stopped")
        sys.exit(130)
