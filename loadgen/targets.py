"""Named targets: where a profile may send load, and the limits that apply there.

A `targets.toml` is looked up beside the profile, then in the working directory, or given
with `--targets FILE`. The built-in target `local` always exists: it is the embedded mock
(`loadgen serve`) started for the run, and it is the default target.

Credentials are never written in the file: it names environment variables, whose values
are read only when a run starts and never logged or written to an artifact.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from loadgen.errors import Problem, TargetError
from loadgen.tomlsource import load_toml
from loadgen.validation import MAX_RATE, Reader, join

Environment = Literal["local", "staging", "production"]
TransportKind = Literal["auto", "fast", "httpx"]
TargetApi = Literal["posthog", "customerio", "segment", "any"]
LOCAL = "local"
TARGETS_FILE = "targets.toml"
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# The credential each API needs, by the key that names its environment variable.
CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "posthog": ("token",),
    "customerio": ("site_id", "api_key"),
    "segment": ("write_key",),
}
# What the embedded mock accepts; they are not secrets, it only runs on loopback.
LOCAL_CREDENTIALS = {
    "token": "phc_loadgen_local",
    "site_id": "loadgen-site",
    "api_key": "loadgen-key",
    "write_key": "loadgen-write-key",
}


@dataclass(frozen=True, slots=True)
class GuardLimits:
    """Per-target thresholds of the guard (GUARD.md); the defaults are the safe ones."""

    workspace_rps_limit: float = 100.0
    max_start_fraction: float = 0.10  # the first stage may start at most at 10 % of the peak
    max_slope_rps_per_s: float = 10.0  # 0 -> 100 req/s takes at least 10 s
    spike_floor_rps: float = 10.0  # profiles peaking below this are never spikes
    hot_user_events_per_s: float = 100.0  # partition overflow threshold per distinct_id
    identify_alias_share: float = 0.10
    max_duration_s: float = 4 * 3600.0
    max_total_events: float = 50_000_000.0
    safety_error_ratio: float = 0.05  # stop when 429s + 5xx exceed this share ...
    safety_window_s: float = 10.0  # ... of requests in this sliding window
    business_hours: tuple[int, int] = (8, 17)  # Europe/Berlin, when the pipeline team is in


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str  # "local" for the embedded mock, started per run
    api: TargetApi
    transport: TransportKind
    environment: Environment
    credentials: dict[str, str] = field(default_factory=dict)  # key -> env var NAME
    trusted_keys: tuple[str, ...] = ()
    limits: GuardLimits = field(default_factory=GuardLimits)
    verify_tls: bool = True
    max_connections: int = 64
    source: str | None = None  # the targets file it came from

    @property
    def is_local(self) -> bool:
        return self.url == LOCAL

    def credential_values(self, api: str) -> dict[str, str]:
        """Resolve the credentials `api` needs from the environment (at run time only)."""
        if self.is_local:
            return {k: LOCAL_CREDENTIALS[k] for k in CREDENTIAL_KEYS[api]}
        values, missing = {}, []
        for key in CREDENTIAL_KEYS[api]:
            var = self.credentials.get(key)
            value = os.environ.get(var) if var else None
            if not value:
                missing.append(f"{key} (env var {var or '<not named>'})")
            else:
                values[key] = value
        if missing:
            raise TargetError(
                [
                    Problem(
                        f"targets.{self.name}.credentials",
                        f"missing credentials: {', '.join(missing)}",
                        self.source,
                        fix="export the environment variables the target names",
                    )
                ]
            )
        return values


BUILTIN_LOCAL = Target(
    name=LOCAL, url=LOCAL, api="any", transport="fast", environment="local", limits=GuardLimits()
)


def find_targets_file(profile_path: Path | None, explicit: Path | None) -> Path | None:
    """`--targets` if given, else targets.toml beside the profile, else in the cwd."""
    if explicit is not None:
        return explicit
    candidates = [profile_path.parent / TARGETS_FILE] if profile_path else []
    candidates.append(Path.cwd() / TARGETS_FILE)
    return next((c for c in candidates if c.is_file()), None)


def load_targets(path: Path | None) -> dict[str, Target]:
    """Every target in `path` (if any) plus the built-in `local`."""
    targets = {LOCAL: BUILTIN_LOCAL}
    if path is None:
        return targets
    data, lines = load_toml(path, kind="targets", error=TargetError)
    reader = Reader(str(path), lines)
    reader.check_keys(data, "", ("targets",))
    table = reader.table(data, "targets", "", required=True)
    for name, raw in table.items():
        where = join("targets", name)
        if not isinstance(raw, dict):
            reader.problem(where, "must be a table", fix=f"write it as [targets.{name}]")
        elif name == LOCAL:
            targets[name] = _read_local(reader, raw, where, str(path))
        else:
            targets[name] = _read_target(reader, name, raw, where, str(path))
    if reader.problems:
        raise TargetError(reader.problems)
    return targets


def resolve_target(name: str, targets: dict[str, Target], source: Path | None) -> Target:
    if name in targets:
        return targets[name]
    known = ", ".join(sorted(targets))
    where = str(source) if source else "no targets.toml found"
    raise TargetError(
        [
            Problem(
                "",
                f"unknown target {name!r}",
                where,
                value=None,
                fix=f"use one of: {known}, or add [targets.{name}] to targets.toml",
            )
        ]
    )


_TARGET_KEYS = (
    "url",
    "api",
    "transport",
    "environment",
    "credentials",
    "trusted_keys",
    "workspace_rps_limit",
    "verify_tls",
    "max_connections",
    "guard",
)


_LOCAL_KEYS = ("trusted_keys", "workspace_rps_limit", "guard")


def _read_local(r: Reader, t: dict[str, Any], where: str, source: str) -> Target:
    """`[targets.local]` may trust approval keys and tune the guard, so that an approved run
    can be rehearsed against the embedded mock; what `local` is (url, api, ...) is built in."""
    for key in t:
        if key not in _LOCAL_KEYS:
            r.problem(
                join(where, key),
                "`local` is built in (the embedded mock) and cannot be redefined: "
                "only trusted_keys, workspace_rps_limit and guard may be set",
                fix="give your own target another name",
            )
    return replace(
        BUILTIN_LOCAL,
        trusted_keys=tuple(r.string_list(t, "trusted_keys", where)),
        limits=_read_limits(r, t, where),
        source=source,
    )


def _read_target(r: Reader, name: str, t: dict[str, Any], where: str, source: str) -> Target:
    r.check_keys(t, where, _TARGET_KEYS)
    url = r.string(t, "url", where)
    if url and not re.match(r"^https?://[^/\s]+", url):
        r.problem(
            join(where, "url"),
            "must be an http:// or https:// URL",
            value=url,
            fix='write e.g. url = "https://capture.staging.example.com"',
        )
    api = cast(TargetApi, r.string(t, "api", where, choices=("posthog", "customerio", "segment")))
    credentials = _read_credentials(r, t, where, api)
    limits = _read_limits(r, t, where)
    return Target(
        name=name,
        url=url.rstrip("/"),
        api=api,
        transport=cast(
            TransportKind,
            r.string(t, "transport", where, "auto", choices=("auto", "fast", "httpx")),
        ),
        environment=cast(
            Environment,
            r.string(
                t, "environment", where, "staging", choices=("local", "staging", "production")
            ),
        ),
        credentials=credentials,
        trusted_keys=tuple(r.string_list(t, "trusted_keys", where)),
        limits=limits,
        verify_tls=r.boolean(t, "verify_tls", where, True),
        max_connections=int(
            r.number(t, "max_connections", where, 64, minimum=1, maximum=10_000, integer=True)
        ),
        source=source,
    )


def _read_credentials(r: Reader, t: dict[str, Any], where: str, api: str) -> dict[str, str]:
    path = join(where, "credentials")
    table = r.table(t, "credentials", where)
    needed = CREDENTIAL_KEYS.get(api, ())
    r.check_keys(table, path, needed)
    result = {}
    for key in needed:
        var = table.get(key)
        if var is None:
            r.problem(
                join(path, key),
                "missing: name the environment variable that holds it",
                fix=f'add credentials.{key} = "{key.upper()}_ENV_VAR_NAME"',
            )
        elif not isinstance(var, str) or not ENV_NAME_RE.match(var):
            r.problem(
                join(path, key),
                "must be the NAME of an environment variable, not a value",
                fix='never put secrets in targets.toml; write e.g. "POSTHOG_TOKEN"',
            )
        else:
            result[key] = var
    return result


_LIMIT_KEYS = (
    "max_start_fraction",
    "max_slope_rps_per_s",
    "spike_floor_rps",
    "hot_user_events_per_s",
    "identify_alias_share",
    "max_duration",
    "max_total_events",
    "safety_error_ratio",
    "safety_window",
)


def _read_limits(r: Reader, t: dict[str, Any], where: str) -> GuardLimits:
    d = GuardLimits()
    path = join(where, "guard")
    g = r.table(t, "guard", where)
    r.check_keys(g, path, _LIMIT_KEYS)
    return GuardLimits(
        workspace_rps_limit=r.number(
            t,
            "workspace_rps_limit",
            where,
            d.workspace_rps_limit,
            exclusive_min=True,
            unit=" requests/s",
        ),
        max_start_fraction=r.number(g, "max_start_fraction", path, d.max_start_fraction, maximum=1),
        max_slope_rps_per_s=r.number(
            g,
            "max_slope_rps_per_s",
            path,
            d.max_slope_rps_per_s,
            exclusive_min=True,
            maximum=MAX_RATE,
        ),
        spike_floor_rps=r.number(g, "spike_floor_rps", path, d.spike_floor_rps),
        hot_user_events_per_s=r.number(
            g, "hot_user_events_per_s", path, d.hot_user_events_per_s, exclusive_min=True
        ),
        identify_alias_share=r.number(
            g, "identify_alias_share", path, d.identify_alias_share, maximum=1
        ),
        max_duration_s=r.duration(g, "max_duration", path, d.max_duration_s),
        max_total_events=r.number(
            g, "max_total_events", path, d.max_total_events, exclusive_min=True, maximum=1e15
        ),
        safety_error_ratio=r.number(
            g, "safety_error_ratio", path, d.safety_error_ratio, exclusive_min=True, maximum=1
        ),
        safety_window_s=_positive_window(r, g, path, d.safety_window_s),
    )


def _positive_window(r: Reader, g: dict[str, Any], path: str, default: float) -> float:
    window = r.duration(g, "safety_window", path, default)
    if window <= 0:
        r.problem(
            join(path, "safety_window"),
            "must be longer than zero",
            value=g.get("safety_window"),
            fix='use e.g. safety_window = "10s"',
        )
        return default
    return window


__all__ = ["BUILTIN_LOCAL", "Target", "find_targets_file", "load_targets", "resolve_target"]
