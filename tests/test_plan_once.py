"""A profile is resolved once per command: `plan`, `run` (also `--dry-run`), `brief` and
`lint` read the profile file once and build one schedule from it, which the guard, the
brief, the plan and the run all read, so they see the same numbers by construction (it was
up to three schedules and two reads of the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import pytest
from typer.testing import CliRunner

from loadgen.arrivals.schedule import Schedule
from loadgen.cli import app
from loadgen.inputs import files
from tests.profile_text import profile_text, write

COMMANDS = [["plan"], ["run", "--dry-run"], ["run", "--quiet"], ["brief"], ["lint"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_each_command_reads_the_profile_once_and_builds_one_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    path = write(tmp_path, profile_text(stages=[("1s", 5)]))  # a real run takes 1 s
    if command[-1] == "--quiet":
        command = [*command, "--out", str(tmp_path / "results.json")]
    schedules: list[Schedule] = []
    profile_reads: list[Path] = []
    build, open_regular = Schedule.__init__, files.open_regular

    def counted_build(self: Schedule, *args: Any, **kwargs: Any) -> None:
        schedules.append(self)
        build(self, *args, **kwargs)

    def counted_open(at: Path, kind: str) -> BinaryIO:
        if kind == "profile":
            profile_reads.append(at)
        return open_regular(at, kind)

    monkeypatch.setattr(Schedule, "__init__", counted_build)
    monkeypatch.setattr(files, "open_regular", counted_open)
    result = CliRunner().invoke(app, [*command, str(path)])
    assert result.exit_code == 0, result.output
    assert len(profile_reads) == 1
    assert len(schedules) == 1
