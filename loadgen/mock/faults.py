"""Fault injection for the mock: added latency, injected 503s, periodic stalls, resets.

The latency syntax is `KIND:PARAMS`, every duration written like "5ms" or "1.5s":

| text | meaning |
|---|---|
| `fixed:5ms` | always 5 ms |
| `uniform:1ms-10ms` | uniform between the two bounds |
| `normal:20ms,5ms` | mean, standard deviation (negative draws become 0) |
| `lognormal:10ms,100ms` | median, 99th percentile (a long right tail) |
| `exponential:10ms` | mean (memoryless) |

A stall `EVERY:FOR` (e.g. `10s:2s`) holds every request that arrives in the windows
[k*EVERY, k*EVERY + FOR), k = 1, 2, ..., counted from when the faults were set; held
requests are answered when their window ends, never dropped.

All draws come from one `random.Random(seed)`, in request order, so a seeded run with the
same requests makes the same decisions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from loadgen.durations import DurationError, format_duration, parse_duration

MAX_LATENCY_S = 60.0  # a mock answering later than this is a broken demo, not a fault
_Z99 = 2.3263478740408408  # the standard normal's 99th percentile
_T = TypeVar("_T")
Action = Literal["answer", "error", "reset"]
LatencyKind = Literal["fixed", "uniform", "normal", "lognormal", "exponential"]
_EXAMPLES = (
    '"fixed:5ms", "uniform:1ms-10ms", "normal:20ms,5ms", '
    '"lognormal:10ms,100ms" (median,p99) or "exponential:10ms" (mean)'
)


@dataclass(frozen=True, slots=True)
class Latency:
    """A latency distribution; `a` and `b` are seconds whose meaning depends on `kind`."""

    kind: LatencyKind
    a: float
    b: float = 0.0

    @property
    def spec(self) -> str:
        """The canonical text, which `parse_latency` reads back to an equal value."""
        a, b = format_duration(self.a), format_duration(self.b)
        if self.kind in ("fixed", "exponential"):
            return f"{self.kind}:{a}"
        return f"{self.kind}:{a}-{b}" if self.kind == "uniform" else f"{self.kind}:{a},{b}"

    def sample(self, rng: random.Random) -> float:
        """One delay in seconds, within [0, MAX_LATENCY_S]."""
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "normal":
            value = rng.gauss(self.a, self.b)
        elif self.kind == "lognormal":
            sigma = math.log(self.b / self.a) / _Z99 if self.b > self.a else 0.0
            value = rng.lognormvariate(math.log(self.a), sigma) if self.a > 0 else 0.0
        else:
            value = rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        return min(max(value, 0.0), MAX_LATENCY_S)


@dataclass(frozen=True, slots=True)
class Stall:
    """Every `every` seconds, stop answering for `duration` seconds."""

    every: float
    duration: float

    @property
    def spec(self) -> str:
        return f"{format_duration(self.every)}:{format_duration(self.duration)}"

    def hold(self, elapsed: float) -> float:
        """Seconds to hold a request arriving `elapsed` seconds after the faults were set."""
        if elapsed < self.every:
            return 0.0
        into = elapsed % self.every
        return self.duration - into if into < self.duration else 0.0


def _seconds(option: str, text: str, part: str) -> float:
    try:
        value = parse_duration(part.strip(), maximum=MAX_LATENCY_S)
    except DurationError as exc:
        raise ValueError(f"{option} {text!r}: {part.strip()!r} is not a duration ({exc})") from None
    return value


def parse_latency(text: str) -> Latency:
    """Read a latency distribution such as "uniform:1ms-10ms" (see the module docstring)."""
    kind, sep, params = text.strip().partition(":")
    if not sep or not params:
        raise ValueError(f"--latency {text!r}: expected KIND:PARAMS, e.g. {_EXAMPLES}")
    kind = kind.strip().lower()
    opt = "--latency"
    if kind == "fixed":
        return Latency("fixed", _seconds(opt, text, params))
    if kind == "exponential":
        return Latency("exponential", _seconds(opt, text, params))
    if kind == "uniform":
        low, dash, high = params.partition("-")
        if not dash:
            raise ValueError(f'--latency {text!r}: uniform needs LOW-HIGH, e.g. "uniform:1ms-10ms"')
        lo, hi = _seconds(opt, text, low), _seconds(opt, text, high)
        if lo > hi:
            raise ValueError(f"--latency {text!r}: the low bound must not exceed the high bound")
        return Latency("uniform", lo, hi)
    if kind in ("normal", "lognormal"):
        first, comma, second = params.partition(",")
        if not comma:
            hint = "normal:20ms,5ms (mean,stddev)" if kind == "normal" else "lognormal:10ms,100ms"
            raise ValueError(f"--latency {text!r}: {kind} needs two values, e.g. {hint}")
        a, b = _seconds(opt, text, first), _seconds(opt, text, second)
        if kind == "lognormal" and (a <= 0 or b < a):
            raise ValueError(
                f"--latency {text!r}: lognormal needs 0 < median <= p99, e.g. lognormal:10ms,100ms"
            )
        return Latency(kind, a, b)  # type: ignore[arg-type]  # narrowed by the `in` test
    raise ValueError(f"--latency {text!r}: unknown distribution {kind!r}; use {_EXAMPLES}")


def parse_stall(text: str) -> Stall:
    """Read `EVERY:FOR`, e.g. "10s:2s": every 10 s, hold requests for 2 s."""
    every_text, sep, for_text = text.strip().partition(":")
    if not sep:
        raise ValueError(f'--stall {text!r}: expected EVERY:FOR, e.g. "10s:2s"')
    every = _stall_seconds(text, every_text)
    duration = _stall_seconds(text, for_text)
    if not 0 < duration < every:
        raise ValueError(
            f"--stall {text!r}: FOR must be above zero and shorter than EVERY, e.g. '10s:2s'"
        )
    return Stall(every, duration)


def _stall_seconds(text: str, part: str) -> float:
    try:
        return parse_duration(part.strip(), maximum=86400.0)
    except DurationError as exc:
        raise ValueError(f"--stall {text!r}: {part.strip()!r} is not a duration ({exc})") from None


def parse_probability(option: str, value: object) -> float:
    """A probability in [0, 1] for `option` (e.g. --error-rate), from a number or text."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{option}: expected a probability between 0 and 1, e.g. 0.05")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(
            f"{option} {value!r}: expected a probability between 0 and 1, e.g. 0.05"
        ) from None
    if not 0.0 <= number <= 1.0:  # also rejects NaN
        raise ValueError(f"{option} {value!r}: must be between 0 and 1, e.g. 0.05 for 5%")
    return number


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """The faults in force; immutable so a runtime change swaps it whole."""

    latency: Latency | None = None
    error_rate: float = 0.0
    stall: Stall | None = None
    reset_rate: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.latency or self.stall or self.error_rate or self.reset_rate)

    def describe(self) -> dict[str, object]:
        return {
            "latency": self.latency.spec if self.latency else None,
            "error_rate": self.error_rate,
            "stall": self.stall.spec if self.stall else None,
            "reset_rate": self.reset_rate,
        }

    def updated(self, changes: dict[str, object]) -> FaultSpec:
        """A copy with the JSON fields in `changes` applied; null clears a fault."""
        unknown = sorted(set(changes) - {"latency", "error_rate", "stall", "reset_rate", "seed"})
        if unknown:
            raise ValueError(
                f"unknown fault field(s) {unknown}; use latency, error_rate, "
                "stall, reset_rate, seed"
            )
        spec = self
        if "latency" in changes:
            spec = replace(spec, latency=_optional(changes["latency"], "latency", parse_latency))
        if "stall" in changes:
            spec = replace(spec, stall=_optional(changes["stall"], "stall", parse_stall))
        if "error_rate" in changes:
            rate = parse_probability("error_rate", changes["error_rate"] or 0)
            spec = replace(spec, error_rate=rate)
        if "reset_rate" in changes:
            rate = parse_probability("reset_rate", changes["reset_rate"] or 0)
            spec = replace(spec, reset_rate=rate)
        return spec


def _optional(value: object, name: str, parse: Callable[[str], _T]) -> _T | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string or null")
    return parse(value)


class FaultInjector:
    """Decides, request by request, what fault (if any) to apply; counts what it did."""

    def __init__(self, spec: FaultSpec, seed: int | None, now: float) -> None:
        self.spec = spec
        self._rng = random.Random(seed)
        self._since = now
        self.counts = {"errors": 0, "resets": 0, "delayed": 0, "stalled": 0}

    def set(self, spec: FaultSpec, now: float, seed: int | None = None) -> None:
        """Swap the faults in force; the stall phase restarts now; a seed restarts the draws."""
        self.spec = spec
        self._since = now
        if seed is not None:
            self._rng = random.Random(seed)

    def decide(self, now: float) -> tuple[Action, float]:
        """The action for a request arriving at `now`, and how long to hold its answer."""
        spec = self.spec
        delay = 0.0
        if spec.stall is not None:
            delay = spec.stall.hold(now - self._since)
            if delay > 0:
                self.counts["stalled"] += 1
        if spec.latency is not None:
            delay += spec.latency.sample(self._rng)
            self.counts["delayed"] += 1
        if spec.error_rate and self._rng.random() < spec.error_rate:
            self.counts["errors"] += 1
            return "error", delay
        if spec.reset_rate and self._rng.random() < spec.reset_rate:
            self.counts["resets"] += 1
            return "reset", delay
        return "answer", delay

    def reset_counts(self) -> None:
        for key in self.counts:
            self.counts[key] = 0
