"""`loadgen init` and the help of every command, through the real CLI in a subprocess."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from loadgen.inputs.starter import APIS, PROFILE_FILE
from loadgen.inputs.targets_file import TARGETS_FILE
from tests.run_support import cli

# An entry line of the commented targets: `# [targets.x]` or `# key = value`, not prose.
COMMENTED_ENTRY = re.compile(r"^# (\[targets\.|[a-z_]+ = )", re.MULTILINE)


def _uncomment_entries(text: str) -> str:
    return COMMENTED_ENTRY.sub(r"\1", text)


@pytest.mark.parametrize("api", APIS)
def test_init_writes_a_profile_that_lints_and_plans(api: str, tmp_path: Path) -> None:
    made = cli("init", "--api", api, "--dir", tmp_path)
    assert made.returncode == 0, made.explain()
    linted = cli("lint", "--strict", PROFILE_FILE, cwd=tmp_path)
    assert linted.returncode == 0, linted.explain()
    assert "0 refusals, 0 warnings, 0 invalid-input problems" in linted.stdout
    planned = cli("plan", "--json", PROFILE_FILE, cwd=tmp_path)
    assert planned.returncode == 0, planned.explain()
    assert f'"api": "{api}"' in planned.stdout
    assert '"peak_rps": 20' in planned.stdout


@pytest.mark.parametrize("api", APIS)
def test_init_targets_hold_commented_staging_and_production(api: str, tmp_path: Path) -> None:
    assert cli("init", "--api", api, "--dir", tmp_path).returncode == 0
    text = (tmp_path / TARGETS_FILE).read_text()
    assert tomllib.loads(text) == {"targets": {}}  # as written: only `local` exists
    entries = tomllib.loads(_uncomment_entries(text))["targets"]
    assert set(entries) == {"staging", "production"}
    assert {entries[n]["environment"] for n in entries} == {"staging", "production"}
    assert {entries[n]["api"] for n in entries} == {api}
    # uncommented, staging is a real target the starter profile lints against (warning only:
    # it has no start time yet)
    (tmp_path / TARGETS_FILE).write_text(_uncomment_entries(text))
    linted = cli("lint", PROFILE_FILE, "--target", "staging", cwd=tmp_path)
    assert linted.returncode == 0, linted.explain()
    assert "schedule.missing-start" in linted.stdout


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    existing = tmp_path / PROFILE_FILE
    existing.write_text("# mine\n")
    refused = cli("init", "--dir", tmp_path)
    assert refused.returncode == 2, refused.explain()
    assert "--force" in refused.stderr
    assert existing.read_text() == "# mine\n"
    assert not (tmp_path / TARGETS_FILE).exists()  # nothing written when anything exists
    forced = cli("init", "--dir", tmp_path, "--force")
    assert forced.returncode == 0, forced.explain()
    assert existing.read_text().startswith("# A starter load test")


def test_init_rejects_an_unknown_api(tmp_path: Path) -> None:
    result = cli("init", "--api", "mixpanel", "--dir", tmp_path)
    assert result.returncode == 2
    assert "posthog, customerio, segment" in result.stderr
    assert list(tmp_path.iterdir()) == []


COMMANDS = [
    [],
    ["run"],
    ["plan"],
    ["lint"],
    ["brief"],
    ["serve"],
    ["init"],
    ["version"],
    ["approve"],
    ["approve", "keygen"],
    ["approve", "sign"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "loadgen")
def test_dash_h_is_help_and_flags_show_no_value_label(command: list[str]) -> None:
    short = cli(*command, "-h")
    assert short.returncode == 0, short.explain()
    assert short.stdout == cli(*command, "--help").stdout
    assert "-h, --help" in short.stdout
    assert "<bool>" not in short.stdout  # flags take no value; `<bool>` says they do
