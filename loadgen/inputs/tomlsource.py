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
from loadgen.inputs.files import UnreadableInput, read_input

_HEADER_NAME = r"""((?:[^\[\]"']|"[^"]*"|'[^']*')+?)"""  # a quoted part may hold brackets
_TABLE = re.compile(rf"^\s*\[\s*{_HEADER_NAME}\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(rf"^\s*\[\[\s*{_HEADER_NAME}\s*\]\]\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")
_LINE_COL = re.compile(r"\(at line (\d+), column (\d+)\)")


_KEY_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


def _key_parts(dotted: str) -> list[str]:
    # One linear pass: a split on dots outside quotes by look-ahead was quadratic, and a
    # dotted key of 500,000 parts fits in a 1 MiB file.
    return [part.strip("\"'") for part in _KEY_PART.findall(dotted)]


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

    def line_near(self, path: str) -> int | None:
        """The line of `path`, else of the first key under it (a dotted key or a table
        header names only its deepest path), else of its nearest parent."""
        if path in self.lines:
            return self.lines[path]
        under = [n for key, n in self.lines.items() if key.startswith((f"{path}.", f"{path}["))]
        return min(under) if under else self.line_of(path)


_INDEX = re.compile(r"\[\d+\]$")


def _parent(path: str) -> str:
    # Only `[digits]` is an index: a quoted key may itself end with "]" (`[users."]"]`).
    if index := _INDEX.search(path):
        return path[: index.start()]
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
    for position, char in enumerate(line):
        if char == "{":
            if depth == 0:
                found.lines[f"{path}[{index}]"] = number
                # Only this inline table's keys: scanning the whole line for every table
                # was quadratic in the tables on one line.
                end = line.find("}", position)
                for inner in _INLINE_KEY.finditer(line, position, end if end >= 0 else len(line)):
                    found.lines[f"{path}[{index}].{inner.group(1).strip(chr(34))}"] = number
                index += 1
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "]" and depth == 0:
            return None
    return (path, index)


MAX_DEPTH = 32  # nesting levels of tables and arrays; a real profile needs about 6
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what JSON tools (and the profile hash) can hold
_MAX_STRUCTURE_PROBLEMS = 10  # one wide table nested too deep must not list 10,000 keys


def load_toml(
    path: Path, *, kind: str, error: type[InvalidInputError]
) -> tuple[dict[str, Any], KeyLines]:
    """Parse `path`; a syntax error, nesting deeper than `MAX_DEPTH` or an integer outside
    64 bits becomes `error` with its line, never a traceback."""
    try:
        text = read_input(path, kind)
    except UnreadableInput as exc:
        raise error([_problem(path, None, exc.message, exc.fix)]) from None
    if (line := _huge_dotted_key_line(text)) is not None:
        raise error([_too_deep(path, "", line)])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _LINE_COL.search(str(exc))
        line = int(match.group(1)) if match else None
        message = _LINE_COL.sub("", str(exc)).strip()
        problem = _problem(path, line, f"TOML syntax error: {message}", "fix the TOML syntax")
        raise error([problem]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise error([_too_deep(path, "", _deep_line(text))]) from None
    except ValueError:  # int() refuses more than 4,300 digits before tomllib can report it
        raise error([_out_of_range(path, "", _long_number_line(text))]) from None
    lines = scan_key_lines(text)
    problems = structure_problems(data, path, lines)
    if problems:
        raise error(problems)
    return data, lines


def structure_problems(data: dict[str, Any], path: Path, lines: KeyLines) -> list[Problem]:
    """Nesting deeper than `MAX_DEPTH` and integers outside 64 bits, anywhere in `data`.

    Iterative (an explicit stack), so a 5,000-level dotted key cannot exhaust Python's
    stack here, and it stops descending at the limit.
    """
    found: list[Problem] = []
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack and len(found) < _MAX_STRUCTURE_PROBLEMS:
        value, key, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            found.append(_too_deep(path, key, lines.line_near(key)))
        elif isinstance(value, dict):
            stack += [(v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, f"{key}[{i}]", depth + 1) for i, v in enumerate(value)]
        elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            found.append(_out_of_range(path, key, lines.line_near(key)))
    return sorted(found, key=lambda p: (p.line or 0, p.path))


def _too_deep(path: Path, key: str, line: int | None) -> Problem:
    return Problem(
        path=key,
        message=f"tables and arrays are nested more than {MAX_DEPTH} levels deep",
        file=str(path),
        line=line,
        fix=f"flatten the structure to at most {MAX_DEPTH} levels",
    )


def _out_of_range(path: Path, key: str, line: int | None) -> Problem:
    return Problem(
        path=key,
        message="is an integer outside the signed 64-bit range (-2^63 to 2^63 - 1)",
        file=str(path),
        line=line,
        fix="use a smaller number, or quote it if it is meant as text",
    )


def _deep_line(text: str) -> int | None:
    """The first line where brackets outside strings nest deeper than `MAX_DEPTH`
    (a rough count: only to point at the place; tomllib has already refused the file)."""
    depth, quote = 0, ""
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            if quote:
                quote = "" if char == quote else quote
            elif char in "\"'":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif char in "]}":
                depth -= 1
        if depth == 0:
            quote = ""
    return None


_KEY_TOKEN = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_DOTTED_RUN = re.compile(rf"(?:{_KEY_TOKEN}[ \t]*\.[ \t]*)+")
_KEY_END = re.compile(rf"{_KEY_TOKEN}[ \t]*[=\]]")  # the last part, then `=` or a header's `]`
# tomllib's memory grows with the square of a dotted key's parts (20,000 parts, 40 KB of
# text, exhaust 1.5 GB), so such keys are refused before it parses. Keys of 33 to 999
# parts are cheap to parse and meet the depth check after. A run counts only when a last
# part and `=` or `]` follow it, so a string value full of dots is not taken for a key.
_MAX_KEY_PARTS = 1000


def _huge_dotted_key_line(text: str) -> int | None:
    """The first line with a run of `_MAX_KEY_PARTS` dot-separated key parts, if any."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count(".") < _MAX_KEY_PARTS - 1:
            continue  # the common case: one count, no regex
        for run in _DOTTED_RUN.finditer(line):  # greedy and non-overlapping: linear
            if run.group().count(".") >= _MAX_KEY_PARTS - 1 and _KEY_END.match(line, run.end()):
                return number
    return None


def _long_number_line(text: str) -> int | None:
    match = re.search(r"\d{4000}", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _problem(path: Path, line: int | None, message: str, fix: str | None) -> Problem:
    return Problem(path="", message=message, file=str(path), line=line, fix=fix)
