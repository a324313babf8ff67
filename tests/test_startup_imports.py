"""Each command imports only what it uses (issue 10, item 8): `loadgen lint`, which
pre-commit runs on every commit, must stay quick to start, so it never loads the engine,
the transports, rich, jsonschema or cryptography (unless an approval is there to check).

Each case runs the command's real code path (`loadgen.cli.main`) in a fresh interpreter and
looks at `sys.modules` afterwards: an import that slips back in at the top of a module (the
usual way start-up time grows) fails here with the module's name, long before anyone
measures `scripts/bench_startup.py` again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fault_servers import responder
from tests.run_support import CREDENTIAL_ENV, profile, target, write_profile, write_targets

ROOT = Path(__file__).resolve().parent.parent

# Runs argv[2:] as the console script does (`loadgen.__main__`, which looks at sys.argv when
# imported) and writes the exit code and every module loaded by the end to argv[1].
PROBE = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
sys.argv = ["loadgen", *args]
from loadgen.__main__ import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

# Third-party packages none of these commands needs; pydantic is what typer >= 0.29 imports
# on every command (pyproject pins typer below it).
NOT_FOR_LINT = ("asyncio", "rich", "jsonschema", "cryptography", "httpx", "uvloop", "pydantic")
# loadgen's own parts that only a run (or `serve`) needs.
LOADGEN_NOT_FOR_LINT = (
    "loadgen.run",
    "loadgen.mock",
    "loadgen.metrics",
    "loadgen.results",
    "loadgen.report.live",
    "loadgen.report.summary",
    "loadgen.transport.factory",
    "loadgen.transport.fast",
    "loadgen.transport.httpx_transport",
    "loadgen.transport.pool",
    "loadgen.scenarios.scenario_set",
)


def loaded_by(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """The exit code of `loadgen ARGS` and the modules it had imported when it ended."""
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        cwd=ROOT,
        env={**os.environ, **CREDENTIAL_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    return report["code"], set(report["modules"])


def offending(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The names of `packages` that `modules` holds, the package or any module inside it."""
    return [p for p in packages if any(m == p or m.startswith(p + ".") for m in modules)]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("lint", "profiles/demo.toml"), id="text"),
        pytest.param(("lint", "profiles/demo.toml", "--format", "json"), id="json"),
        pytest.param(("lint", "profiles/demo.toml", "--format", "github", "--strict"), id="github"),
    ],
)
def test_lint_imports_no_engine_transport_rich_jsonschema_or_cryptography(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, modules = loaded_by(tmp_path, *args)
    assert code == 0
    assert offending(modules, NOT_FOR_LINT) == []
    assert offending(modules, LOADGEN_NOT_FOR_LINT) == []


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("plan", "profiles/demo.toml"), id="plan"),
        pytest.param(("plan", "profiles/demo.toml", "--json"), id="plan-json"),
        pytest.param(("brief", "profiles/demo.toml"), id="brief"),
        pytest.param(("version",), id="version"),
    ],
)
def test_the_other_commands_that_send_nothing_import_none_of_them_either(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, modules = loaded_by(tmp_path, *args)
    assert code == 0
    assert offending(modules, NOT_FOR_LINT) == []
    assert offending(modules, LOADGEN_NOT_FOR_LINT) == []


def test_lint_of_every_shipped_profile_imports_none_of_them(tmp_path: Path) -> None:
    """Whatever a profile holds (batches, journeys, replay files, other APIs), lint reads it
    with the same light modules; its findings do not matter here, only that it ran."""
    profiles = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "profiles").glob("*.toml"))
    code, modules = loaded_by(tmp_path, "lint", *profiles)
    assert code in (0, 1)
    assert offending(modules, NOT_FOR_LINT) == []
    assert offending(modules, LOADGEN_NOT_FOR_LINT) == []


def test_the_probe_sees_what_a_command_imports(tmp_path: Path) -> None:
    """The check above is not vacuous: a command that does need cryptography (making an
    approval key) is seen loading it."""
    code, modules = loaded_by(tmp_path, "approve", "keygen", "--out", str(tmp_path / "k.pem"))
    assert code == 0
    assert offending(modules, ("cryptography",)) == ["cryptography"]


def test_a_quiet_run_on_the_fast_transport_loads_only_what_it_uses(tmp_path: Path) -> None:
    """A run against a named target on the fast transport (what CI and the benchmarks do)
    needs neither httpx nor the embedded mock nor cryptography (no approval, no TLS), and
    draws no live panel; it still validates its artifact against the schema before writing
    it, so jsonschema is loaded, after the run."""
    path = write_profile(tmp_path, profile("quick", start_rate=4, stages=[("0.5s", 4)]))
    with responder() as server:
        write_targets(tmp_path, loopback=target(server.url))
        out = tmp_path / "quick.json"
        code, modules = loaded_by(
            tmp_path, "run", str(path), "-t", "loopback", "--out", str(out), "-q"
        )
    assert code == 0
    assert out.exists()
    assert offending(modules, ("httpx", "cryptography", "loadgen.mock", "rich.live")) == []
    assert offending(modules, ("jsonschema",)) == ["jsonschema"]


def test_the_shipped_schema_is_valid_against_its_metaschema() -> None:
    """Checked here once, not when each run validates its artifact (that cost ~25 ms of
    every `loadgen run`): the shipped schema only changes with loadgen's code."""
    from jsonschema import Draft202012Validator

    from loadgen.results.artifact import schema

    Draft202012Validator.check_schema(schema())
