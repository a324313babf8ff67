"""Property templates: `"{{choice:free,pro}}"`, `"SKU-{{int:1000..9999}}"`, ... in profiles.

A property value is compiled once (`compile_properties`) and rendered per event from a
`Context` the scenario fills in. Generators:

| template           | renders                                                         |
|--------------------|-----------------------------------------------------------------|
| `{{counter}}`      | 1, 2, 3, ... per scenario (one step per event)                  |
| `{{choice:a,b,c}}` | one of the comma-separated options, uniformly                   |
| `{{int:LO..HI}}`   | an integer in [LO, HI] (both within signed 64 bits)             |
| `{{float:LO..HI}}` | a number in [LO, HI] with 2 decimals                            |
| `{{uuid}}`         | a UUID-4-shaped id from the seeded RNG, unique per event        |
| `{{timestamp}}`    | the event's timestamp in the API's own format (see below)       |
| `{{user}}`         | the event's distinct_id                                         |
| `{{text:N}}`       | N random letters (for realistic payload sizes)                  |

`{{timestamp}}` is ISO 8601 for PostHog and Segment and unix seconds for Customer.io (whose
`created_at` must be a unix time); `{{timestamp:iso}}` / `{{timestamp:unix}}` force one.

A value that is exactly one `{{int}}`, `{{float}}`, `{{counter}}` or unix `{{timestamp}}`
is a JSON number; anything else (literal text around a template, several templates) is a
string. Tables and arrays render recursively; non-string TOML values are constants.
There is no escape for a literal `{{`.

`check(value)` lists the problems of a value (with the key path inside it) for the profile
reader; `compile_properties` raises `TemplateError` with the same messages.
"""

from __future__ import annotations

import difflib
import math
import random
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

GENERATORS = ("counter", "choice", "int", "float", "uuid", "timestamp", "user", "text")
MAX_TEXT = 1_000_000  # an event over ~1 MB is refused by every API anyway
_NEEDS_ARG = ("choice", "int", "float", "text")
_TEXT_POOL_SIZE = 1 << 16
_M62 = (1 << 62) - 1
_UUID_SALT = 0x2545F4914F6CDD1D
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_PROBLEMS = 10  # per property value

Render = Callable[["Context"], Any]


class TemplateError(ValueError):
    """A property value has template problems; `problems` lists them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Context:
    """Per-event inputs of a render; one instance is reused for every event of a scenario.

    `ts` is unix seconds; `native` is the same instant in the API's own format; `serial`
    is the event's run-unique number, which keeps `{{uuid}}` values unique across workers.
    """

    __slots__ = ("counter", "native", "rng", "serial", "text_pool", "ts", "user")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.user = ""
        self.ts = 0.0
        self.native: object = ""
        self.counter = 0
        self.serial = 0
        self.text_pool = ""  # random letters for {{text:N}}, made on first use


def mix62(x: int) -> int:
    """A bijection of [0, 2**62) that scrambles bits: distinct inputs give distinct outputs."""
    x &= _M62
    x ^= x >> 31
    x = (x * 0x7FB5D329728EA185) & _M62
    x ^= x >> 27
    x = (x * 0x81DADEF4BC2DD44D) & _M62
    return x ^ (x >> 33)


def uuid_string(hi60: int, lo62: int) -> str:
    """A version-4, RFC 4122 variant UUID from 60 + 62 free bits (unique if `lo62` is)."""
    hi = hi60 & ((1 << 60) - 1)
    value = ((hi >> 12) << 80) | (0x4 << 76) | ((hi & 0xFFF) << 64) | (0b10 << 62) | lo62
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Iso8601:
    """ISO 8601 UTC with milliseconds (`2026-01-01T00:00:00.000Z`), caching the second
    and the last millisecond (thousands of events a second share it)."""

    __slots__ = ("_last", "_last_ms", "_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._last_ms = -1
        self._last = ""

    def __call__(self, ts: float) -> str:
        ms_total = math.floor(ts * 1000)
        if ms_total == self._last_ms:
            return self._last
        second, ms = divmod(ms_total, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._last_ms, self._last = ms_total, f"{self._prefix}.{ms:03d}Z"
        return self._last


def iso8601(ts: float) -> str:
    return Iso8601()(ts)


# --- parsing -------------------------------------------------------------------------


def _parse(text: str) -> tuple[list[str | tuple[str, str]], list[str]]:
    """Split a string into literal text and (generator, argument) parts, with problems."""
    parts: list[str | tuple[str, str]] = []
    problems: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            problems.append(f"unclosed '{{{{' at character {start + 1}: add '}}}}'")
            return parts, problems
        if start > pos:
            parts.append(text[pos:start])
        name, _, arg = text[start + 2 : end].strip().partition(":")
        parts.append((name.strip(), arg.strip()))
        problems += _check_generator(name.strip(), arg.strip(), ":" in text[start:end])
        if len(problems) >= _MAX_PROBLEMS:  # a 1 MiB string of bad templates: say it once
            problems[_MAX_PROBLEMS - 1 :] = ["... and more: fix the ones above first"]
            return parts, problems
        pos = end + 2
    if pos < len(text):
        parts.append(text[pos:])
    return parts, problems


def _check_generator(name: str, arg: str, has_arg: bool) -> list[str]:
    if name not in GENERATORS:
        close = difflib.get_close_matches(name, GENERATORS, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(GENERATORS)}"
        return [f"unknown generator '{_shown(name)}'{hint}"]
    if name in _NEEDS_ARG and not arg:
        return [f"'{name}' needs an argument, e.g. {_EXAMPLES[name]}"]
    if name == "timestamp" and has_arg and arg not in ("iso", "unix"):
        return [f"'timestamp' takes 'iso' or 'unix', not '{_shown(arg)}'"]
    if name not in _NEEDS_ARG and name != "timestamp" and has_arg:
        return [f"'{name}' takes no argument: write {{{{{name}}}}}"]
    if name == "choice":
        options = arg.split(",")
        if any(not o.strip() for o in options):
            return [f"empty option in choice '{arg}': write e.g. {_EXAMPLES['choice']}"]
    elif name in ("int", "float"):
        return _check_range(name, arg)
    elif name == "text" and not _is_text_length(arg):
        return [f"text length must be a whole number 0..{MAX_TEXT}, not '{_shown(arg)}'"]
    return []


def _is_text_length(arg: str) -> bool:
    # isdigit() alone accepts '³', which int() refuses, and int() refuses 4,300+ digits.
    return arg.isascii() and arg.isdigit() and len(arg) <= 7 and int(arg) <= MAX_TEXT


def _shown(arg: str) -> str:
    """`arg` as quoted in a message: at most 40 characters, never a whole 1 MiB string."""
    return arg if len(arg) <= 40 else arg[:40] + "..."


_EXAMPLES = {
    "choice": "{{choice:free,pro}}",
    "int": "{{int:1..100}}",
    "float": "{{float:0.5..99.9}}",
    "text": "{{text:200}}",
}


def _bounds(name: str, arg: str) -> tuple[float, float] | None:
    lo_text, sep, hi_text = arg.partition("..")
    convert = int if name == "int" else float
    try:
        lo, hi = convert(lo_text.strip()), convert(hi_text.strip())
    except ValueError:
        return None
    if not sep or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if name == "int" and not (lo >= _INT64_MIN and hi <= _INT64_MAX):
        return None  # a rendered int is a JSON number: it must fit in 64 bits
    return lo, hi


def _check_range(name: str, arg: str) -> list[str]:
    bounds = _bounds(name, arg)
    if bounds is None:
        return [
            f"'{name}' needs LO..HI with {name} bounds (64-bit for int), e.g. {_EXAMPLES[name]}, "
            f"not '{_shown(arg)}'"
        ]
    if bounds[0] > bounds[1]:
        return [f"empty range {arg} in '{name}': LO must not exceed HI"]
    return []


def check(value: object) -> list[str]:
    """Problems of a property value; nested ones are prefixed with their key path."""
    if isinstance(value, str):
        return _parse(value)[1]
    problems: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            problems += [_prefix(str(key), p, item) for p in check(item)]
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += [_prefix(f"[{i}]", p, item) for p in check(item)]
    return problems


def _prefix(key: str, problem: str, item: object) -> str:
    if isinstance(item, str):
        return f"{key}: {problem}"
    sep = "" if problem.startswith("[") else "."
    return f"{key}{sep}{problem}"


# --- compiling -----------------------------------------------------------------------


def _number(name: str, arg: str) -> Render:
    bounds = _bounds(name, arg)
    if bounds is None:  # unreachable after check(); keeps the type narrow
        raise TemplateError([f"bad range '{arg}'"])
    lo, hi = bounds
    if name == "int":
        lo_i, span = int(lo), int(hi) - int(lo) + 1
        return lambda c: lo_i + int(c.rng.random() * span)
    width = hi - lo

    def uniform(c: Context) -> float:
        return min(max(round(lo + c.rng.random() * width, 2), lo), hi)

    return uniform


def _generator(name: str, arg: str) -> tuple[Render, bool]:
    """The render function, and whether it yields a number (formatted in strings)."""
    if name in ("int", "float"):
        return _number(name, arg), True
    if name == "counter":
        return (lambda c: c.counter), True
    if name == "choice":
        options = tuple(o.strip() for o in arg.split(","))
        size = len(options)
        return (lambda c: options[int(c.rng.random() * size)]), False
    if name == "uuid":
        return (lambda c: uuid_string(c.rng.getrandbits(60), mix62(c.serial ^ _UUID_SALT))), False
    if name == "user":
        return (lambda c: c.user), False
    if name == "text":
        return _text(int(arg)), False
    if arg == "iso":
        return (lambda c: iso8601(c.ts)), False
    if arg == "unix":
        return (lambda c: int(c.ts)), True
    return (lambda c: c.native), True


def _text(length: int) -> Render:
    """A slice of the context's random letter pool at a random offset (wrapping around)."""
    repeats = length // _TEXT_POOL_SIZE + 1

    def render(c: Context) -> str:
        if not c.text_pool:
            c.text_pool = "".join(c.rng.choices(string.ascii_letters, k=_TEXT_POOL_SIZE))
        start = int(c.rng.random() * _TEXT_POOL_SIZE)
        if start + length <= _TEXT_POOL_SIZE:
            return c.text_pool[start : start + length]
        return (c.text_pool[start:] + c.text_pool * repeats)[:length]

    return render


def _literal(value: object) -> Render:
    return lambda c: value


def _piece(part: str | tuple[str, str]) -> Render:
    """One part of a mixed string, rendered as text."""
    if isinstance(part, str):
        return _literal(part)
    render, numeric = _generator(*part)
    if part[0] == "float":
        return lambda c: f"{render(c):.2f}"
    if numeric:
        return lambda c: str(render(c))
    return render


def _compile_string(text: str) -> Render | None:
    """None when the string holds no template (a constant)."""
    parts, problems = _parse(text)
    if problems:
        raise TemplateError(problems)
    if not any(isinstance(p, tuple) for p in parts):
        return None
    if len(parts) == 1 and isinstance(parts[0], tuple):
        return _generator(*parts[0])[0]
    generators = [p for p in parts if isinstance(p, tuple)]
    if len(generators) == 1:  # the common "SKU-{{int:1000..9999}}": no join needed
        at = parts.index(generators[0])
        head, tail = "".join(map(str, parts[:at])), "".join(map(str, parts[at + 1 :]))
        piece = _piece(generators[0])
        return lambda c: head + piece(c) + tail
    pieces = [_piece(part) for part in parts]
    return lambda c: "".join([piece(c) for piece in pieces])


def _compile(value: object) -> Render | None:
    """A render function for a value holding templates, or None for a constant."""
    if isinstance(value, str):
        return _compile_string(value)
    if isinstance(value, Mapping):
        items = [(str(k), v, _compile(v)) for k, v in value.items()]
        if all(r is None for _, _, r in items):
            return None
        renders = [(k, r if r is not None else _literal(v)) for k, v, r in items]
        return lambda c: {k: r(c) for k, r in renders}
    if isinstance(value, list):
        elements = [(v, _compile(v)) for v in value]
        if all(r is None for _, r in elements):
            return None
        fns = [r if r is not None else _literal(v) for v, r in elements]
        return lambda c: [f(c) for f in fns]
    return None


class Properties:
    """A scenario's compiled properties; `render` returns a new top-level dict per event."""

    __slots__ = ("_constant", "_counter", "_dynamic", "_order")

    def __init__(self, properties: Mapping[str, object]) -> None:
        problems = check(dict(properties))
        if problems:
            raise TemplateError(problems)
        self._counter = 0
        self._order = list(properties)
        self._constant = dict(properties)
        self._dynamic: list[tuple[str, Render]] = []
        for key, value in properties.items():
            render = _compile(value)
            if render is not None:
                self._dynamic.append((key, render))

    @property
    def empty(self) -> bool:
        return not self._order

    def render(self, ctx: Context) -> dict[str, Any]:
        """Fill one event's properties; each call is one step of `{{counter}}`."""
        self._counter += 1
        ctx.counter = self._counter
        out = self._constant.copy()
        for key, render in self._dynamic:
            out[key] = render(ctx)
        return out


def compile_properties(properties: Mapping[str, object]) -> Properties:
    return Properties(properties)


__all__ = [
    "GENERATORS",
    "Context",
    "Iso8601",
    "Properties",
    "TemplateError",
    "check",
    "compile_properties",
    "iso8601",
    "mix62",
    "uuid_string",
]
