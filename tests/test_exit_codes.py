"""The exit codes are a public contract: the README's table says exactly what `ExitCode` does."""

from __future__ import annotations

import re
from pathlib import Path

from loadgen.errors import ExitCode

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| (\d+) \| (.+) \|$")


def readme_table() -> dict[int, str]:
    """The rows of the README's `## Exit codes` table, code to meaning."""
    section = README.read_text(encoding="utf-8").split("\n## Exit codes\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = (ROW.match(line.strip()) for line in section.splitlines())
    return {int(m[1]): m[2] for m in rows if m}


def test_the_readme_table_is_the_enum() -> None:
    assert readme_table() == {int(code): code.meaning for code in ExitCode}


def test_codes_are_distinct_and_in_the_shell_range() -> None:
    values = [int(code) for code in ExitCode]
    assert len(set(values)) == len(values)
    assert all(0 <= v <= 255 for v in values)
