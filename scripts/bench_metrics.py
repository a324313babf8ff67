"""Cost of recording on the engine's hot path: ns per record call, and the pause one bulk
flush adds to the event loop (it counts against the scheduler-lag budget).

Compares RunMetrics at several flush sizes with the naive design (hdrh `record_value` into
every histogram on each call). Amortized flush cost is included in the per-call figures.

Run: .venv/bin/python scripts/bench_metrics.py
"""

from __future__ import annotations

import functools
import os
import platform
import random
import statistics
import time
from collections.abc import Callable

from hdrh.histogram import HdrHistogram

from loadgen.metrics import FLUSH_AT, RunMetrics
from loadgen.metrics.hdr import new_histogram

CALLS = 200_000
RATE = 5_000  # arrivals per second of simulated time: sets how often seconds roll over
REPEATS = 5
FLUSH_SIZES = (256, 1024, 2048, 8192)


class NaiveMetrics:
    """The obvious design: every value straight into its histograms (~1 µs each)."""

    def __init__(self) -> None:
        self.lat, self.svc = new_histogram(), new_histogram()
        self.lat_all, self.svc_all = new_histogram(), new_histogram()
        self.second: dict[int, HdrHistogram] = {}
        self.status: dict[int, int] = {}

    def record_response(
        self, scenario: int, t_s: float, lat: int, svc: int, status: int, ra: float | None
    ) -> None:
        self.lat.record_value(lat)
        self.svc.record_value(svc)
        self.lat_all.record_value(lat)
        self.svc_all.record_value(svc)
        sec = int(t_s)
        h = self.second.get(sec)
        if h is None:
            h = self.second[sec] = new_histogram()
        h.record_value(lat)
        self.status[status] = self.status.get(status, 0) + 1


def workload(kind: str) -> list[tuple[float, int, int]]:
    rng = random.Random(7)
    out = []
    for i in range(CALLS):
        if kind == "narrow":  # a healthy loopback server: ~1 ms, tight
            lat = max(1, int(rng.gauss(1000, 200)))
        else:  # a real API under load: median 5 ms, long tail
            lat = int(rng.lognormvariate(8.5, 1.0))
        out.append((i / RATE, lat, lat * 3 // 4))
    return out


def timed(fn: Callable[[], object]) -> float:
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs) / CALLS * 1e9  # the least-disturbed run: the machine is shared


def bench_response(
    make: Callable[[], RunMetrics | NaiveMetrics], data: list[tuple[float, int, int]]
) -> float:
    def run() -> None:
        m = make()
        record = m.record_response
        for t, lat, svc in data:
            record(0, t, lat, svc, 200, None)
        if isinstance(m, RunMetrics):
            m.flush()

    return timed(run)


def bench_simple(method: str, flush_at: int) -> float:
    def run() -> None:
        m = RunMetrics(["a"], flush_at=flush_at)
        if method == "record_lag":
            record_lag = m.record_lag
            for i in range(CALLS):
                record_lag(i % 700)
        elif method == "record_started":
            started = m.record_started
            for i in range(CALLS):
                started(0, i / RATE)
        else:
            planned = m.record_planned
            for i in range(CALLS):
                planned(i / RATE)
        m.flush()

    return timed(run)


def flush_pause_us(flush_at: int, data: list[tuple[float, int, int]]) -> float:
    """Time of one flush of `flush_at` buffered responses (all in one second)."""
    pauses = []
    for rep in range(REPEATS * 3):
        m = RunMetrics(["a"], flush_at=flush_at + 1)
        for _, lat, svc in data[rep * flush_at : (rep + 1) * flush_at]:
            m.record_response(0, 0.5, lat, svc, 200, None)
        start = time.perf_counter()
        m.flush()
        pauses.append(time.perf_counter() - start)
    return statistics.median(pauses) * 1e6


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"command: .venv/bin/python scripts/bench_metrics.py "
        f"({CALLS:,} calls at {RATE:,}/s simulated, best of {REPEATS})"
    )
    noop = timed(lambda: [None for _ in range(CALLS)])
    print(f"bare loop overhead: {noop:.0f} ns per iteration (included below)\n")
    for kind in ("narrow", "wide"):
        data = workload(kind)
        print(f"record_response, {kind} latencies")
        print(f"  {'design':<34} {'ns/call':>9} {'flush pause':>13}")
        naive = bench_response(NaiveMetrics, data)
        print(f"  {'naive: record_value x5 per call':<34} {naive:>9.0f}")
        for size in FLUSH_SIZES:
            ns = bench_response(functools.partial(RunMetrics, ["a"], flush_at=size), data)
            pause = flush_pause_us(size, data)
            label = f"RunMetrics flush_at={size}"
            print(f"  {label:<34} {ns:>9.0f} {pause:>10.0f} µs")
        print()
    print("other hot-path calls (RunMetrics, default flush size)")
    for method in ("record_planned", "record_started", "record_lag"):
        print(f"  {method:<34} {bench_simple(method, FLUSH_AT):>9.0f}")


if __name__ == "__main__":
    main()
