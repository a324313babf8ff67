"""Read a TOML file and remember which line each key path sits on.

`tomllib` gives values without positions, so problems found later (a negative rate in
`load.stages[2].target`) would have no line to point at. A light scan of the source
recovers `key path -> line` for the usual layouts: tables, arrays of tables, dotted and
quoted keys, inline tables and arrays of inline tables. Anything it cannot place falls
back to the nearest parent that it can.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import InvalidInputError, Problem
from loadgen.inputfile import UnreadableInput, read_input

_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")
_LINE_COL = re.compile(r"\(at line (\d+), column (\d+)\)")


def _key_parts(dotted: str) -> list[str]:
    return [
        p.strip().strip("\"'")
        for p in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", dotted)
    ]


@dataclass
class KeyLines:
    """Maps key paths like `load.stages[1].target` to 1-based line numbers."""

    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its nearest known parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = _parent(path)
        return None


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def scan_key_lines(text: str) -> KeyLines:
    """Scan TOML source for the line of every key path it can place."""
    found = KeyLines()
    counters: dict[str, int] = {}
    prefix = ""
    open_array: tuple[str, int] | None = None  # (path of a multi-line array, next index)
    for number, line in enumerate(text.splitlines(), start=1):
        if open_array is not None:
            open_array = _continue_array(found, open_array, line, number)
            continue
        if match := _ARRAY_TABLE.match(line):
            base = ".".join(_key_parts(match.group(1)))
            index = counters.get(base, 0)
            counters[base] = index + 1
            prefix = f"{base}[{index}]"
            found.lines.setdefault(base, number)
            found.lines[prefix] = number
        elif match := _TABLE.match(line):
            prefix = ".".join(_key_parts(match.group(1)))
            found.lines.setdefault(prefix, number)
        elif match := _KEY.match(line):
            path = ".".join([prefix, *_key_parts(match.group(1))]).lstrip(".")
            found.lines[path] = number
            rest = line[match.end() :]
            for inner in _INLINE_KEY.finditer(rest if rest.lstrip().startswith("{") else ""):
                found.lines[f"{path}.{inner.group(1).strip(chr(34))}"] = number
            if rest.lstrip().startswith("[") and rest.count("[") > rest.count("]"):
                open_array = _continue_array(found, (path, 0), rest.lstrip()[1:], number)
    return found


def _continue_array(
    found: KeyLines, state: tuple[str, int], line: str, number: int
) -> tuple[str, int] | None:
    path, index = state
    depth = 0
    for char in line:
        if char == "{":
            if depth == 0:
                found.lines[f"{path}[{index}]"] = number
                for inner in _INLINE_KEY.finditer(line[line.index("{") :]):
                    found.lines[f"{path}[{index}].{inner.group(1).strip(chr(34))}"] = number
                index += 1
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "]" and depth == 0:
            return None
    return (path, index)


def load_toml(
    path: Path, *, kind: str, error: type[InvalidInputError]
) -> tuple[dict[str, Any], KeyLines]:
    """Parse `path`; a syntax error becomes `error` with its line, never a traceback."""
    try:
        text = read_input(path, kind)
    except UnreadableInput as exc:
        raise error([_problem(path, None, exc.message, exc.fix)]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _LINE_COL.search(str(exc))
        line = int(match.group(1)) if match else None
        message = _LINE_COL.sub("", str(exc)).strip()
        problem = _problem(path, line, f"TOML syntax error: {message}", "fix the TOML syntax")
        raise error([problem]) from None
    return data, scan_key_lines(text)


def _problem(path: Path, line: int | None, message: str, fix: str | None) -> Problem:
    return Problem(path="", message=message, file=str(path), line=line, fix=fix)
