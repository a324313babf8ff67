"""`MockConfig`: every knob of `loadgen serve`, with one `parse_*` per command-line option.

Each `parse_*` turns the option's text into its typed value or raises `ValueError` whose
message names the option and shows a valid example. `MockConfig` re-checks its values, so
a config built in code fails the same way. `to_argv` / `from_args` carry a config to the
`python -m loadgen.mock` subprocess and back.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from loadgen.durations import DurationError, parse_duration
from loadgen.mock.faults import (
    FaultSpec,
    Latency,
    Stall,
    parse_latency,
    parse_probability,
    parse_stall,
)

_T = TypeVar("_T")

__all__ = [
    "MockConfig",
    "add_arguments",
    "from_args",
    "parse_accepted_keys",
    "parse_error_rate",
    "parse_header_timeout",
    "parse_host",
    "parse_latency",
    "parse_port",
    "parse_reset_rate",
    "parse_rps_limit",
    "parse_seed",
    "parse_stall",
    "to_argv",
]


@dataclass(frozen=True, slots=True)
class MockConfig:
    """How the mock listens, limits, counts and misbehaves.

    `rps_limit` is per workspace (token / site id / write key), burst = 1 s worth;
    0 disables it. `accepted_keys` empty accepts any well-formed credential; otherwise
    only these tokens, `site_id:api_key` pairs or write keys. `overflow_rate` 0 turns the
    overflow simulation off. `tls_cert`/`tls_key` (PEM paths) make it serve HTTPS.
    """

    host: str = "127.0.0.1"
    port: int = 0
    rps_limit: float = 100.0
    latency: Latency | None = None
    error_rate: float = 0.0
    stall: Stall | None = None
    reset_rate: float = 0.0
    accepted_keys: frozenset[str] = field(default_factory=frozenset)
    seed: int | None = None
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_header_bytes: int = 64 * 1024
    overflow_rate: float = 100.0
    overflow_burst: float = 1000.0
    exact_ids: int = 100_000
    top_ids: int = 10
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        parse_port(self.port)
        parse_rps_limit(self.rps_limit)
        parse_error_rate(self.error_rate)
        parse_reset_rate(self.reset_rate)
        for name in ("header_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, e.g. 10")
        if self.overflow_rate < 0 or self.overflow_burst < 1:
            raise ValueError("overflow_rate must be >= 0 and overflow_burst >= 1 (e.g. 100, 1000)")
        if self.max_header_bytes < 1024 or self.exact_ids < 1 or self.top_ids < 1:
            raise ValueError("max_header_bytes >= 1024, exact_ids >= 1 and top_ids >= 1")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both PEM paths or neither")

    @property
    def faults(self) -> FaultSpec:
        return FaultSpec(self.latency, self.error_rate, self.stall, self.reset_rate)


def parse_host(text: str) -> str:
    host = text.strip()
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"--host {text!r}: expected an address to listen on, e.g. 127.0.0.1")
    return host


def parse_port(value: object) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if isinstance(value, bool) or not 0 <= port <= 65535:
        raise ValueError(f"--port {value!r}: expected 0..65535 (0 picks a free port), e.g. 8080")
    return port


def parse_rps_limit(value: object) -> float:
    try:
        rate = float(str(value).strip())
    except ValueError:
        rate = -1.0
    if isinstance(value, bool) or not (math.isfinite(rate) and rate >= 0):
        raise ValueError(
            f"--rps-limit {value!r}: expected requests per second per workspace, "
            "e.g. 100 (0 turns the limit off)"
        )
    return rate


def parse_error_rate(value: object) -> float:
    return parse_probability("--error-rate", value)


def parse_reset_rate(value: object) -> float:
    return parse_probability("--reset-rate", value)


def parse_accepted_keys(values: Iterable[str]) -> frozenset[str]:
    keys = frozenset(v.strip() for v in values)
    if "" in keys:
        raise ValueError(
            "--accept-key: a key must not be empty; give a token, a site_id:api_key pair "
            "or a write key, e.g. --accept-key phc_test"
        )
    return keys


def parse_seed(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"--seed {value!r}: expected an integer, e.g. 42") from None


def parse_header_timeout(value: object) -> float:
    try:
        seconds = parse_duration(_number_or_text(value))
    except DurationError as exc:
        raise ValueError(f"--header-timeout {value!r}: {exc}") from None
    if seconds <= 0:
        raise ValueError(f"--header-timeout {value!r}: must be above zero, e.g. 10s")
    return seconds


def _number_or_text(value: object) -> object:
    """A plain number given as text ("10.0") becomes seconds; "10s" stays text."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _arg(parse: Callable[[str], _T]) -> Callable[[str], _T]:
    """Wrap a parser so argparse shows our message rather than a generic "invalid value"."""

    def wrapped(text: str) -> _T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    wrapped.__name__ = parse.__name__
    return wrapped


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subprocess entry's options; `to_argv` writes them, `from_args` reads them."""
    add = parser.add_argument
    add("--host", type=_arg(parse_host), default="127.0.0.1")
    add("--port", type=_arg(parse_port), default=0)
    add("--rps-limit", type=_arg(parse_rps_limit), default=100.0)
    add("--latency", type=_arg(parse_latency))
    add("--error-rate", type=_arg(parse_error_rate), default=0.0)
    add("--stall", type=_arg(parse_stall))
    add("--reset-rate", type=_arg(parse_reset_rate), default=0.0)
    add("--accept-key", action="append", default=[])
    add("--seed", type=_arg(parse_seed))
    add("--header-timeout", type=_arg(parse_header_timeout), default=10.0)
    add("--idle-timeout", type=_arg(parse_header_timeout), default=60.0)
    add("--overflow-rate", type=_arg(parse_rps_limit), default=100.0)
    add("--overflow-burst", type=float, default=1000.0)
    add("--tls-cert")
    add("--tls-key")


def from_args(ns: argparse.Namespace) -> MockConfig:
    return MockConfig(
        host=ns.host,
        port=ns.port,
        rps_limit=ns.rps_limit,
        latency=ns.latency,
        error_rate=ns.error_rate,
        stall=ns.stall,
        reset_rate=ns.reset_rate,
        accepted_keys=parse_accepted_keys(ns.accept_key),
        seed=ns.seed,
        header_timeout=ns.header_timeout,
        idle_timeout=ns.idle_timeout,
        overflow_rate=ns.overflow_rate,
        overflow_burst=ns.overflow_burst,
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
    )


def to_argv(config: MockConfig) -> list[str]:
    """Command-line options that rebuild `config` through `add_arguments` + `from_args`."""
    argv = ["--host", config.host, "--port", str(config.port)]
    argv += ["--rps-limit", repr(config.rps_limit)]
    if config.latency is not None:
        argv += ["--latency", config.latency.spec]
    if config.stall is not None:
        argv += ["--stall", config.stall.spec]
    argv += ["--error-rate", repr(config.error_rate), "--reset-rate", repr(config.reset_rate)]
    for key in sorted(config.accepted_keys):
        argv += ["--accept-key", key]
    if config.seed is not None:
        argv += ["--seed", str(config.seed)]
    argv += ["--header-timeout", repr(config.header_timeout)]
    argv += ["--idle-timeout", repr(config.idle_timeout)]
    argv += ["--overflow-rate", repr(config.overflow_rate)]
    argv += ["--overflow-burst", repr(config.overflow_burst)]
    if config.tls_cert is not None and config.tls_key is not None:
        argv += ["--tls-cert", config.tls_cert, "--tls-key", config.tls_key]
    return argv
