"""Typed, strict reading of a parsed TOML table that collects every problem at once.

Profiles and targets files are read through a `Reader`: each getter returns a usable
value (or a default) and records a `Problem` instead of raising, so one pass reports
everything wrong with a file, each with its line, key path, value and fix.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from loadgen.durations import MAX_DURATION_S, DurationError, parse_duration
from loadgen.errors import Problem
from loadgen.inputs.tomlsource import KeyLines

T = TypeVar("T")
MAX_RATE = 1_000_000.0  # requests/s: more than any single generator or API could mean
MISSING: Any = object()


def join(path: str, key: str | int) -> str:
    """The key path of `key` inside `path`: `load` + `stages` -> `load.stages`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def suggest(word: str, options: list[str]) -> list[str]:
    """The known option `word` was probably meant to be: a prefix of one, or a close spelling."""
    prefixed = [o for o in options if o.startswith(word) or word.startswith(o)]
    return prefixed[:1] or difflib.get_close_matches(word, options, n=1, cutoff=0.6)


class Reader:
    """Collects problems for one file while reading values out of its tables."""

    def __init__(self, file: str | None, lines: KeyLines) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(
        self, path: str, message: str, *, value: object = None, fix: str | None = None
    ) -> None:
        line = self.lines.line_of(path)
        self.problems.append(Problem(path, message, self.file, line, value, fix))

    def check_keys(self, table: dict[str, Any], path: str, allowed: Iterable[str]) -> None:
        """Every key of `table` must be known; suggest the closest known key."""
        allowed = list(allowed)
        for key in table:
            if key in allowed:
                continue
            close = suggest(key, allowed)
            fix = (
                f"did you mean `{close[0]}`?"
                if close
                else f"known keys: {', '.join(sorted(allowed))}"
            )
            self.problem(join(path, key), "unknown key", fix=fix)

    def table(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool = False
    ) -> dict[str, Any]:
        value = parent.get(key, MISSING)
        where = join(path, key)
        if value is MISSING:
            if required:
                self.problem(where, "missing table", fix=f"add a [{where}] table")
            return {}
        if not isinstance(value, dict):
            self.problem(where, "must be a table", value=value, fix=f"write it as [{where}]")
            return {}
        return value

    def table_list(self, parent: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
        value = parent.get(key, MISSING)
        where = join(path, key)
        if value is MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(
                where, "must be an array of tables", fix=f"write each entry as [[{where}]]"
            )
            return []
        return value

    def string(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        default: str | None = None,
        *,
        choices: Iterable[str] | None = None,
        max_len: int = 10_000,
    ) -> str:
        value = table.get(key, MISSING)
        where = join(path, key)
        if value is MISSING:
            if default is None:
                self.problem(where, "missing", fix=f'add `{key} = "..."`')
                return ""
            return default
        if not isinstance(value, str):
            self.problem(where, "must be a string", value=value, fix=f'quote it: {key} = "{value}"')
            return default or ""
        if len(value) > max_len:
            self.problem(where, f"is longer than {max_len} characters", fix="shorten it")
            return default or ""
        if choices is not None and value not in (options := list(choices)):
            close = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            self.problem(
                where,
                "is not one of the allowed values",
                value=value,
                fix=f"{hint}use one of: {', '.join(options)}",
            )
            return default or options[0]
        return value

    def boolean(self, table: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(
                join(path, key),
                "must be true or false",
                value=value,
                fix=f"write `{key} = true` or `{key} = false`",
            )
            return default
        return value

    def number(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        default: float | None = None,
        *,
        minimum: float = 0.0,
        maximum: float = MAX_RATE,
        integer: bool = False,
        exclusive_min: bool = False,
        unit: str = "",
    ) -> float:
        """A finite number in [minimum, maximum]; `integer` refuses fractions."""
        value = table.get(key, MISSING)
        where = join(path, key)
        fallback = default if default is not None else minimum
        if value is MISSING:
            if default is None:
                self.problem(where, "missing", fix=f"add `{key} = <number{unit}>`")
            return fallback
        kind = "a whole number" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(
                where,
                f"must be {kind}",
                value=value,
                fix=f"write it without quotes, e.g. `{key} = 10`",
            )
            return fallback
        if not math.isfinite(value):
            self.problem(where, "must be finite", value=value, fix="use a finite number")
            return fallback
        if integer and not isinstance(value, int):
            self.problem(
                where, f"must be {kind}", value=value, fix=f"use e.g. `{key} = {int(value)}`"
            )
            return fallback
        low_ok = value > minimum if exclusive_min else value >= minimum
        if not low_ok or value > maximum:
            low = f"above {minimum:g}" if exclusive_min else f"at least {minimum:g}"
            self.problem(
                where,
                f"must be {low} and at most {maximum:g}{unit}",
                value=value,
                fix="pick a value in that range",
            )
            return fallback
        return float(value)

    def duration(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        default: float | None = None,
        *,
        maximum: float = MAX_DURATION_S,
    ) -> float:
        value = table.get(key, MISSING)
        where = join(path, key)
        if value is MISSING:
            if default is None:
                self.problem(where, "missing", fix=f'add `{key} = "30s"` (units ms, s, m, h, d)')
                return 0.0
            return default
        try:
            return parse_duration(value, maximum)
        except DurationError as exc:
            self.problem(where, str(exc), value=value)
            return default or 0.0

    def string_list(self, table: dict[str, Any], key: str, path: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(
                join(path, key),
                "must be an array of strings",
                value=value,
                fix=f'write e.g. `{key} = ["a", "b"]`',
            )
            return []
        return value

    def custom(self, where: str, raw: object, parse: Callable[[object], T], default: T) -> T:
        """Run a parser that raises ValueError with a user-facing message."""
        try:
            return parse(raw)
        except ValueError as exc:
            self.problem(where, str(exc), value=raw)
            return default
