"""The start-up benchmark's pieces (scripts/bench_startup.py, scripts/importcost.py): the
`-X importtime` reader and its sums, the verdict lines, the k6 script, the first-request
server (a real loopback socket), and the one-request profile the guard must accept.

Nothing is timed here and no benchmark runs.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_startup as bs  # the scripts directory is not a package
import benchlib as b
import importcost as ic

# Real `-X importtime` output (CPython 3.11), with a line of the command's own stderr mixed in.
IMPORTTIME = """import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      1100 |       1500 |     asyncio.events
loadgen: a line the command itself wrote to stderr
import time:       300 |       2000 |   asyncio
import time:      2500 |       4700 | loadgen.transport.base
import time:       900 |        900 | rich
"""
ROWS = [
    ic.ImportRow(120, 120, 1, "_io"),
    ic.ImportRow(1100, 1500, 2, "asyncio.events"),
    ic.ImportRow(300, 2000, 1, "asyncio"),
    ic.ImportRow(2500, 4700, 0, "loadgen.transport.base"),
    ic.ImportRow(900, 900, 0, "rich"),
]


def test_parse_importtime_reads_times_and_nesting() -> None:
    assert ic.parse_importtime(IMPORTTIME) == ROWS  # header and foreign lines skipped


def importtime_line(row: ic.ImportRow) -> str:
    """The line CPython prints for `row` (Python/import.c)."""
    indent = "  " * row.depth
    return f"import time: {row.self_us:9d} | {row.cumulative_us:10d} | {indent}{row.module}"


MODULE = st.from_regex(r"[a-z_][a-z0-9_]{0,12}(\.[a-z_][a-z0-9_]{0,12}){0,3}", fullmatch=True)
ROW = st.builds(
    ic.ImportRow,
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 30),
    MODULE,
)


@given(st.lists(ROW, max_size=30))
def test_parse_importtime_reads_back_what_cpython_prints(rows: list[ic.ImportRow]) -> None:
    text = "\n".join(
        ["import time: self [us] | cumulative | imported package", *map(importtime_line, rows)]
    )
    assert ic.parse_importtime(text) == rows


def test_total_import_time_counts_only_the_outermost_imports() -> None:
    assert ic.total_import_us(ROWS) == 4700 + 900  # nested times are inside their parent's


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("loadgen.guard.approvals", "loadgen.guard"),  # loadgen is charged by subpackage
        ("loadgen.cli", "loadgen.cli"),  # a top-level module of loadgen is its own line
        ("loadgen", "loadgen"),  # the package itself
        ("rich.console", "rich"),  # everyone else by top-level package
        ("_ssl", "_ssl"),  # an extension module stays itself
    ],
)
def test_package_of(module: str, package: str) -> None:
    assert ic.package_of(module) == package


def test_self_by_package_sums_own_times_only() -> None:
    assert ic.self_by_package(ROWS) == {
        "_io": 120,
        "asyncio": 1100 + 300,  # self times: the event loop is not counted twice
        "loadgen.transport": 2500,
        "rich": 900,
    }


def test_top_cumulative_is_largest_first() -> None:
    assert [r.module for r in ic.top_cumulative(ROWS, 2)] == ["loadgen.transport.base", "asyncio"]


@pytest.mark.parametrize(
    ("module", "chain"),
    [
        ("asyncio.events", ["loadgen.transport.base", "asyncio", "asyncio.events"]),  # 2 deep
        ("_io", ["loadgen.transport.base", "_io"]),  # its importer is the next line further out
        ("rich", ["rich"]),  # imported at the top level: no importer
        ("jsonschema", None),  # not imported at all
    ],
)
def test_import_chain(module: str, chain: list[str] | None) -> None:
    assert ic.import_chain(ROWS, module) == chain


def test_fastest_keeps_the_first_runs_order_and_each_modules_minimum() -> None:
    slower = [ic.ImportRow(r.self_us * 2, r.cumulative_us * 2, r.depth, r.module) for r in ROWS]
    mixed = [*slower[:2], *ROWS[2:]]  # faster for the last three modules only
    assert ic.fastest([slower, mixed]) == [*slower[:2], *ROWS[2:]]
    assert ic.fastest([slower, ROWS]) == ROWS  # the minimum, wherever it was measured
    reordered = ROWS[::-1]
    assert ic.fastest([ROWS, reordered]) == ROWS  # the first run's order


@pytest.mark.parametrize(
    ("ours", "theirs", "verdict"),
    [
        ([200.0, 250.0, 300.0], [100.0], "**2.50** (goal ≤ 2.5): met"),  # the bound is inclusive
        ([600.0], [100.0, 110.0, 90.0], "**6.00** (goal ≤ 2.5): NOT met"),  # medians compared
        ([], [100.0], "not measured"),  # k6 missing or loadgen failed: no ratio
    ],
)
def test_ratio_line(ours: list[float], theirs: list[float], verdict: str) -> None:
    assert bs.ratio_line("first request", ours, theirs, 2.5).endswith(verdict)


def test_k6_script_posts_the_benchmark_event_once() -> None:
    body = b'{"a":"it\'s \\ here"}'  # quotes and a backslash survive as a JS string literal
    script = bs.k6_script("http://127.0.0.1:9/i/v0/e/", body)
    assert "vus: 1, iterations: 1" in script
    call = script[script.index("http.post(") + len("http.post(") : script.index(", {")]
    url, sent = json.loads(f"[{call}]")
    assert (url, sent.encode()) == ("http://127.0.0.1:9/i/v0/e/", body)


def post(url: str, method: str, path: str) -> int:
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    try:
        conn.request(method, path, body=b.EVENT, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_first_request_server_times_the_first_ingestion_post() -> None:
    with bs.FirstRequestServer() as server:
        server.arm()
        assert post(server.url, "GET", "/health") == 200  # answered, but not the request timed
        assert server.wait_first(0.05) is None
        before = time.perf_counter()
        assert post(server.url, "POST", b.PATH) == 200
        assert post(server.url, "POST", b.PATH + "?beacon=1") == 200
        first = server.wait_first(5.0)
        assert first is not None
        assert before <= first <= time.perf_counter()
        assert server.requests == 2  # the benchmark insists on exactly one per run
        server.arm()
        assert (server.first_at, server.requests) == (None, 0)


def test_the_guard_accepts_the_one_request_profile(tmp_path: Path) -> None:
    setup = bs.make_setup(tmp_path, "http://127.0.0.1:9", k6=None)
    profile, targets = str(tmp_path / "one.toml"), str(tmp_path / "targets.toml")
    cmd = [*setup.loadgen_lint[:-2], "plan", profile, "--target", "bench", "--targets", targets]
    plan = subprocess.run([*cmd, "--json"], capture_output=True, timeout=60, check=True)
    assert json.loads(plan.stdout)["total_requests"] == 1
    lint = [*setup.loadgen_lint[:-1], profile, "--target", "bench", "--targets", targets]
    done = subprocess.run(lint, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert setup.k6_run is None
    assert Path(setup.python).name.startswith("python")  # the interpreter beside loadgen
