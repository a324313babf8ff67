#!/usr/bin/env python3
"""Where a Python command's start-up goes: `python -X importtime`, read and summed up.

For each command: the top imports by cumulative time, each package's own (self) import time
summed (so nothing is counted twice; loadgen is split by subpackage), and who first imports
the heavy packages (typer, rich, jsonschema, cryptography, httpx, uvloop, hdrh, asyncio,
pydantic), as a chain of importers. `--repeat N` runs the command N times and keeps each
module's smallest figures, which takes most of a shared machine's noise out.
`scripts/bench_startup.py` uses it for `loadgen lint` and `loadgen run`; on its own:

    .venv/bin/python scripts/importcost.py [--top 15] [--repeat 3] -- \
        .venv/bin/loadgen lint profiles/demo.toml

`-X importtime` itself slows imports down (roughly 10-30 %): compare its figures with each
other, and wall times with `scripts/bench_startup.py`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as b  # the scripts directory is not a package

# The packages whose first importer is always shown (issue 10 names them; typer pulls in
# pydantic when it converts a command's parameters).
WATCHED = (
    "typer",
    "pydantic",
    "rich",
    "jsonschema",
    "cryptography",
    "httpx",
    "uvloop",
    "hdrh",
    "asyncio",
)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One line of `python -X importtime`: microseconds, nesting depth, module."""

    self_us: int
    cumulative_us: int
    depth: int
    module: str


def parse_importtime(text: str) -> list[ImportRow]:
    """The `import time:` lines of `-X importtime` stderr; anything else is ignored."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line: "self [us] | cumulative | imported package"
        name = parts[2].rstrip()
        # " | " then two spaces per level of nesting: " loadgen.cli", "   loadgen.arrivals.plan"
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append(ImportRow(int(parts[0]), int(parts[1]), depth, name.strip()))
    return rows


def fastest(runs: Sequence[Sequence[ImportRow]]) -> list[ImportRow]:
    """The first run's rows, each with the smallest times any run measured for its module."""
    best: dict[str, tuple[int, int]] = {}
    for rows in runs:
        for r in rows:
            low = best.get(r.module, (r.self_us, r.cumulative_us))
            best[r.module] = (min(low[0], r.self_us), min(low[1], r.cumulative_us))
    return [replace(r, self_us=best[r.module][0], cumulative_us=best[r.module][1]) for r in runs[0]]


def total_import_us(rows: Sequence[ImportRow]) -> int:
    """All import time: the cumulative time of the outermost imports."""
    return sum(r.cumulative_us for r in rows if r.depth == 0)


def package_of(module: str) -> str:
    """What a module's cost is charged to: its top-level package, loadgen's by subpackage."""
    parts = module.split(".")
    if parts[0] == "loadgen" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def self_by_package(rows: Sequence[ImportRow]) -> dict[str, int]:
    """Each package's own import time (self, so nothing is counted twice), in µs."""
    totals: dict[str, int] = {}
    for row in rows:
        key = package_of(row.module)
        totals[key] = totals.get(key, 0) + row.self_us
    return totals


def top_cumulative(rows: Sequence[ImportRow], n: int) -> list[ImportRow]:
    return sorted(rows, key=lambda r: r.cumulative_us, reverse=True)[:n]


def import_chain(rows: Sequence[ImportRow], module: str) -> list[str] | None:
    """Who imported `module` first: its importers from the outermost one down, or None.

    importtime prints a module after everything it imported, so a module's importer is the
    next line one level further out.
    """
    start = next((i for i, r in enumerate(rows) if r.module == module), None)
    if start is None:
        return None
    chain, depth = [module], rows[start].depth
    for row in rows[start + 1 :]:
        if row.depth < depth:
            chain.append(row.module)
            depth = row.depth
    return chain[::-1]


def measure(cmd: Sequence[str], env: Mapping[str, str], repeat: int) -> list[ImportRow]:
    """`cmd` run `repeat` times under PYTHONPROFILEIMPORTTIME (= `-X importtime`), bounded."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            cmd,
            env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
            cwd=b.ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )
        rows = parse_importtime(done.stderr.decode())
        if not rows:
            raise RuntimeError(f"no importtime lines from {b.shell(cmd)}: {done.stderr[-500:]!r}")
        runs.append(rows)
    return fastest(runs)


def report_top(label: str, rows: Sequence[ImportRow], top: int) -> None:
    print(f"\n### `{label}`: {total_import_us(rows) / 1000:.0f} ms of imports\n")
    table = [
        [r.module, str(r.depth), f"{r.cumulative_us / 1000:.1f}", f"{r.self_us / 1000:.1f}"]
        for r in top_cumulative(rows, top)
    ]
    print(b.markdown_table(["module", "depth", "cumulative ms", "self ms"], table))


def report_packages(imports: Mapping[str, Sequence[ImportRow]], top: int) -> None:
    """One table of each package's own time per command, then the watched packages' chains."""
    own = {label: self_by_package(rows) for label, rows in imports.items()}
    chosen = set(WATCHED)
    for costs in own.values():
        chosen.update(sorted(costs, key=costs.__getitem__, reverse=True)[:top])
    order = sorted(chosen, key=lambda p: max(c.get(p, 0) for c in own.values()), reverse=True)
    print("\n### Own import time per package (self times summed, ms; – = not imported)\n")
    table = []
    for pkg in order:
        name = f"{pkg} (stdlib)" if pkg in sys.stdlib_module_names else pkg
        cells = [f"{c[pkg] / 1000:.1f}" if pkg in c else "–" for c in own.values()]
        table.append([name, *cells])
    print(b.markdown_table(["package", *(f"`{k}`" for k in own)], table))
    print("\nWho first imports the watched packages (outermost importer first):\n")
    for label, rows in imports.items():
        for pkg in WATCHED:
            if (chain := import_chain(rows, pkg)) is not None:
                print(f"- `{label}`: {' > '.join(chain)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--top", type=int, default=15, help="entries per table (default 15)")
    p.add_argument("--repeat", type=int, default=3, help="runs, fastest kept (default 3)")
    p.add_argument("command", nargs="+", help="a Python command, e.g. .venv/bin/loadgen lint F")
    args = p.parse_args()
    if not 1 <= args.top <= 100 or not 1 <= args.repeat <= 20:
        p.error("need 1 <= --top <= 100 and 1 <= --repeat <= 20")
    label = b.shell(args.command)
    rows = measure(args.command, os.environ, args.repeat)
    report_top(label, rows, args.top)
    report_packages({label: rows}, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
