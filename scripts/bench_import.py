"""Benchmark `loadgen import`: events/s at a 100 req/s cap and uncapped, and its memory.

Generates an NDJSON file of PostHog events in a temp dir (`--records N`, or `--size-gb X`
for a multi-GB file: the same record repeated with distinct uuids and distinct_ids), starts
the mock (`LocalMock`, no rate limit) pinned to core 1, and runs `loadgen import` pinned to
core 0, batches of 100:

- capped: a target whose workspace limit is 100 req/s, over `--capped-seconds` worth of
  records (100 req/s x 100 events x S), so the cap is what is measured;
- uncapped: a target whose limit is out of reach, over the whole file: the importer's
  maximum on one core.

Events/s comes from the reconciliation artifact (accepted / (ended_at - started_at)); the
wall time includes Python's start-up. The import's VmRSS is sampled every 0.2 s with the
checkpoint's acknowledged byte offset, which gives the RSS at 10 / 50 / 90 % of the file:
flat memory means those three are close. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as b  # the scripts folder is not a package

IMPORT_CORE, MOCK_CORE = 0, 1
BATCH_SIZE = 100
CAP_RPS = 100.0
SAMPLE_EVERY_S = 0.2
FRACTIONS = (0.1, 0.5, 0.9)
# The properties bench_generator's events carry, so a record is ~330 bytes as there.
PROPERTIES = (
    b'{"$current_url":"https://example.com/pricing","$browser":"Chrome",'
    b'"$os":"Mac OS X","$lib":"loadgen","plan":"pro"}'
)

# --- pure helpers (tests/test_bench_import.py) -------------------------------------------


def record_line(index: int, users: int) -> bytes:
    """Record `index` as one NDJSON line: its own uuid, distinct_id `user-(index % users)`."""
    uuid = f"0190f3c2-7a1b-7c3d-9e4f-{index:012x}"
    second = index % 86_400
    stamp = f"2024-05-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000Z"
    return (
        b'{"event":"$pageview","distinct_id":"user-%09d","properties":%s,'
        b'"timestamp":"%s","uuid":"%s"}\n'
        % (index % users, PROPERTIES, stamp.encode(), uuid.encode())
    )


def records_for_size(size_bytes: float, users: int) -> int:
    """How many records make a file of at least `size_bytes` (every line has one length)."""
    return max(1, math.ceil(size_bytes / len(record_line(0, users))))


def write_records(path: Path, count: int, users: int) -> int:
    """Write `count` records to `path` in 1 MiB-ish chunks; returns the file's size."""
    with open(path, "wb") as out:
        chunk: list[bytes] = []
        for index in range(count):
            chunk.append(record_line(index, users))
            if len(chunk) == 4096:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    return path.stat().st_size


@dataclass(frozen=True, slots=True)
class MemSample:
    t: float  # seconds since the import started
    rss_kb: int
    offset: int  # the checkpoint's acknowledged byte offset then


def rss_at_fractions(
    samples: list[MemSample], size: int, fractions: tuple[float, ...] = FRACTIONS
) -> list[int | None]:
    """The RSS of the first sample at or past each fraction of the file (None: not reached)."""
    found: list[int | None] = []
    for fraction in fractions:
        past = (s.rss_kb for s in samples if s.offset >= fraction * size)
        found.append(next(past, None))
    return found


def import_seconds(doc: dict[str, Any]) -> float:
    """The import's own duration: ended_at - started_at of its artifact."""
    started = datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(doc["ended_at"].replace("Z", "+00:00"))
    return max((ended - started).total_seconds(), 1e-9)


def checkpoint_offset(raw: bytes) -> int | None:
    """The acknowledged prefix's byte offset from a checkpoint's bytes (None: unreadable)."""
    try:
        value = orjson.loads(raw).get("prefix_offset")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) else None


# --- measuring ---------------------------------------------------------------------------


class MemSampler(threading.Thread):
    """Samples a process's VmRSS and its import's checkpoint offset until it exits."""

    def __init__(self, pid: int, checkpoint: Path) -> None:
        super().__init__(daemon=True)
        self.pid, self.checkpoint = pid, checkpoint
        self.samples: list[MemSample] = []
        self._done = threading.Event()

    def run(self) -> None:
        start, offset = time.monotonic(), 0
        while not self._done.is_set():
            try:
                rss = b.parse_status_kb(Path(f"/proc/{self.pid}/status").read_text())
            except OSError:
                return
            if rss is None:  # a zombie has no VmRSS
                return
            with contextlib.suppress(OSError):  # not written yet: nothing acknowledged
                offset = checkpoint_offset(self.checkpoint.read_bytes()) or offset
            self.samples.append(MemSample(time.monotonic() - start, rss, offset))
            self._done.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._done.set()
        self.join(2.0)


@dataclass(slots=True)
class ImportRun:
    name: str
    command: list[str]
    doc: dict[str, Any]
    wall_s: float
    file_size: int
    samples: list[MemSample] = field(default_factory=list)
    mock: dict[str, Any] = field(default_factory=dict)
    cores: dict[int, float] = field(default_factory=dict)  # each core's busy share meanwhile


def import_command(events: Path, targets: Path, out: Path) -> list[str]:
    run = ["import", str(events), "--target", "bench", "--targets", str(targets)]
    run += ["--batch-size", str(BATCH_SIZE), "--out", str(out), "--quiet"]
    return [*b.pin(IMPORT_CORE), sys.executable, "-m", "loadgen", *run]


def run_import(name: str, events: Path, targets: Path, timeout_s: float) -> ImportRun:
    """One import to completion (bounded), sampling its memory."""
    out = events.with_name(events.name + ".import.json")
    checkpoint = events.with_name(events.name + ".checkpoint.json")
    cmd = import_command(events, targets, out)
    env = {**os.environ, b.TOKEN_ENV: b.BENCH_TOKEN}
    wall0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=b.ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    sampler = MemSampler(proc.pid, checkpoint)
    sampler.start()
    try:
        with b.core_meter() as cores:
            _, err = proc.communicate(timeout=timeout_s)
    except BaseException:
        b.stop_process(proc, 10.0)
        raise
    finally:
        sampler.stop()
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"loadgen import exited {proc.returncode}: {err.decode()[-2000:]}")
    wall = time.perf_counter() - wall0
    size = events.stat().st_size
    doc = orjson.loads(out.read_bytes())
    return ImportRun(name, cmd, doc, wall, size, sampler.samples, cores=cores)


def pin_pid(pid: int, core: int) -> None:
    """Pin every thread of `pid` to `core`, when the machine has it."""
    if core >= (os.cpu_count() or 1) or not hasattr(os, "sched_setaffinity"):
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {core})


def describe(run: ImportRun) -> list[str]:
    doc = run.doc
    accepted = int(doc["records"]["accepted"])
    seconds = import_seconds(doc)
    peak = max((s.rss_kb for s in run.samples), default=0)
    at = rss_at_fractions(run.samples, run.file_size)
    flat = " / ".join("–" if kb is None else f"{kb / 1024:.0f}" for kb in at)
    return [
        run.name,
        f"{run.file_size / 1e6:,.1f} MB",
        f"{accepted:,}",
        f"{doc['requests']:,}",
        f"{accepted / seconds:,.0f}",
        f"{doc['requests'] / seconds:,.1f}",
        f"{seconds:,.1f} ({run.wall_s:,.1f})",
        f"{peak / 1024:.0f}",
        flat,
        "yes" if doc["balanced"] else "NO",
    ]


HEADERS = [
    "case",
    "file",
    "events accepted",
    "requests",
    "events/s",
    "req/s",
    "import s (wall s)",
    "peak RSS MiB",
    "RSS MiB at 10/50/90 %",
    "balanced",
]


def mock_check(stats: dict[str, Any]) -> str:
    keys = ("events_unique", "duplicate_event_ids", "ordering_violations", "busiest_1s_requests")
    return ", ".join(f"{k} {stats.get(k, '?'):,}" for k in keys)


# --- the benchmark -----------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--records", type=int, default=200_000, help="uncapped file (default 200,000)")
    p.add_argument("--size-gb", type=float, default=None, help="uncapped file of this size instead")
    p.add_argument("--users", type=int, default=100_000, help="distinct_ids (default 100,000)")
    p.add_argument("--capped-seconds", type=float, default=30.0, help="capped case's length")
    p.add_argument("--no-capped", action="store_true", help="only the uncapped maximum")
    p.add_argument("--no-uncapped", action="store_true", help="only the 100 req/s case")
    p.add_argument("--tmp", type=Path, default=None, help="where the files go (default: /tmp)")
    args = p.parse_args()
    if args.records < 1 or args.users < 1 or not 1 <= args.capped_seconds <= 3600:
        p.error("need --records >= 1, --users >= 1 and 1 <= --capped-seconds <= 3600")
    if args.size_gb is not None and not 0 < args.size_gb <= 100:
        p.error("need 0 < --size-gb <= 100")
    return args


def capped_case(tmp: Path, url: str, args: argparse.Namespace) -> ImportRun:
    count = int(CAP_RPS * BATCH_SIZE * args.capped_seconds)
    events = tmp / "capped.ndjson"
    write_records(events, count, args.users)
    targets = tmp / "targets-capped.toml"
    limit = f"workspace_rps_limit = {CAP_RPS:g}"
    targets.write_text(b.targets_toml("bench", url).replace("workspace_rps_limit = 1000000", limit))
    print(f"capped: {count:,} records at {CAP_RPS:g} req/s ...", flush=True)
    return run_import("capped 100 req/s", events, targets, args.capped_seconds * 3 + 120)


def uncapped_case(tmp: Path, url: str, args: argparse.Namespace) -> ImportRun:
    users = args.users
    count = args.records if args.size_gb is None else records_for_size(args.size_gb * 1e9, users)
    events = tmp / "uncapped.ndjson"
    print(f"uncapped: writing {count:,} records ...", flush=True)
    size = write_records(events, count, users)
    targets = tmp / "targets-uncapped.toml"
    targets.write_text(b.targets_toml("bench", url))
    print(f"uncapped: importing {size / 1e6:,.1f} MB ...", flush=True)
    return run_import("uncapped", events, targets, 3600.0)


def report(runs: list[ImportRun], machine: str, tmp: Path) -> None:
    print("\n## Results\n")
    print(b.markdown_table(HEADERS, [describe(run) for run in runs]))
    print()
    for run in runs:
        print(f"- {run.name}: the mock saw {mock_check(run.mock)}; {b.format_cores(run.cores)}")
    print("\n## Commands\n")
    print(f"- this benchmark: `{b.shell([sys.executable, *sys.argv])}`")
    print(f"- the mock: `LocalMock(rps_limit=0)` (`loadgen serve --rps-limit 0`), core {MOCK_CORE}")
    for run in runs:
        print(f"- {run.name}: `{b.shell(run.command)}`")
    for name in ("targets-capped.toml", "targets-uncapped.toml"):
        if (tmp / name).is_file():
            print(f"\n`{name}`:\n```toml\n{(tmp / name).read_text()}```")
    print(f"\n## Machine\n\n{machine}")


def main() -> int:
    from loadgen.mock.process import LocalMock

    args = parse_args()
    b.on_sigterm_raise_interrupt()
    machine = b.machine_line()
    print(machine, flush=True)
    runs: list[ImportRun] = []
    with (
        tempfile.TemporaryDirectory(prefix="loadgen-bench-import-", dir=args.tmp) as tmpdir,
        LocalMock(rps_limit=0) as mock,
    ):
        pin_pid(mock.pid, MOCK_CORE)
        tmp = Path(tmpdir)
        cases = [(args.no_capped, capped_case), (args.no_uncapped, uncapped_case)]
        for skipped, case in cases:
            if skipped:
                continue
            mock.reset()
            run = case(tmp, mock.url, args)
            run.mock = mock.stats()
            runs.append(run)
            print(f"  {' | '.join(describe(run))} ({b.format_cores(run.cores)})", flush=True)
        report(runs, machine, tmp)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(b.ROOT))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: the mock stopped, nothing reported")
        sys.exit(130)
