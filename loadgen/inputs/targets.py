"""Named targets: where a profile may send load, and the limits that apply there.

A `targets.toml` is looked up beside the profile, then in the working directory, or given
with `--targets FILE`. The built-in target `local` always exists: it is the embedded mock
(`loadgen serve`) started for the run, and it is the default target.

Credentials are never written in the file: it names environment variables, whose values
are read only when a run starts and never logged or written to an artifact. A URL with
credentials in it (`user:pass@`, a query or a fragment) and a token value pasted where a
variable name belongs are refused, without echoing the secret (see `loadgen.inputs.redact`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from loadgen.apis import APIS, Api, credential_keys
from loadgen.errors import Problem, TargetError
from loadgen.inputs.files import display_path
from loadgen.inputs.origin import parse_origin
from loadgen.inputs.redact import (
    bad_variable_name,
    redact_url,
    url_has_secret_parts,
    variable_name_fix,
)
from loadgen.inputs.targets_file import INIT_HINT, no_targets_file_text
from loadgen.inputs.tomlsource import KeyLines, load_toml
from loadgen.inputs.validation import MAX_RATE, Reader, join

Environment = Literal["local", "staging", "production"]
TransportKind = Literal["auto", "fast", "httpx"]
TargetApi = Api | Literal["any"]
LOCAL = "local"
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
    source: str | None = None  # the targets file it came from, relative to the cwd if inside
    lines: KeyLines | None = field(default=None, compare=False, repr=False)  # of that file

    @property
    def is_local(self) -> bool:
        return self.url == LOCAL

    def line_of(self, key_path: str) -> int | None:
        """The line of `key_path` (e.g. `targets.staging.environment`) in the targets file."""
        return self.lines.line_of(key_path) if self.lines is not None else None

    def credential_values(self, api: str) -> dict[str, str]:
        """Resolve the credentials `api` needs from the environment (at run time only)."""
        if self.is_local:
            return {k: LOCAL_CREDENTIALS[k] for k in credential_keys(api)}
        values, missing = {}, []
        for key in credential_keys(api):
            var = self.credentials.get(key)
            value = os.environ.get(var) if var else None
            if not value:
                missing.append(f"{key} (env var {var or '<not named>'})")
            else:
                values[key] = value
        if missing:  # names the variables (a name is not a secret), never a value
            where = f"targets.{self.name}.credentials"
            raise TargetError(
                [
                    Problem(
                        where,
                        f"credentials not set (or empty) in the environment: {', '.join(missing)}",
                        self.source,
                        self.line_of(where),
                        fix="export the environment variables the target names",
                    )
                ]
            )
        return values


BUILTIN_LOCAL = Target(
    name=LOCAL, url=LOCAL, api="any", transport="fast", environment="local", limits=GuardLimits()
)


def load_targets(path: Path | None) -> dict[str, Target]:
    """Every target in `path` (if any) plus the built-in `local`."""
    targets = {LOCAL: BUILTIN_LOCAL}
    if path is None:
        return targets
    shown = Path(display_path(path))  # the same file, named as problems should name it
    data, lines = load_toml(shown, kind="targets", error=TargetError)
    reader = Reader(str(shown), lines)
    reader.check_keys(data, "", ("targets",))
    table = reader.table(data, "targets", "", required=True)
    for name, raw in table.items():
        where = join("targets", name)
        if not isinstance(raw, dict):
            reader.problem(where, "must be a table", fix=f"write it as [targets.{name}]")
        elif name == LOCAL:
            targets[name] = _read_local(reader, raw, where, lines)
        else:
            targets[name] = _read_target(reader, name, raw, where, lines)
    if reader.problems:
        raise TargetError(reader.problems)
    return targets


def resolve_target(
    name: str,
    targets: dict[str, Target],
    source: Path | None,
    searched: Sequence[Path] = (),
) -> Target:
    """The target called `name`; else an error naming the files searched and the fix."""
    if name in targets:
        return targets[name]
    return _raise_unknown(name, targets, source, searched)


def _raise_unknown(
    name: str, targets: dict[str, Target], source: Path | None, searched: Sequence[Path]
) -> Target:
    if source is None:
        text = f"unknown target {name!r}: {no_targets_file_text(searched)}"
        problem = Problem("", text, None, fix=f"{INIT_HINT}, or pass --targets FILE")
    else:
        known = ", ".join(sorted(targets))
        fix = f"use one of: {known}, or add [targets.{name}] to {display_path(source)}"
        text = f"unknown target {name!r}: not defined in this targets file"
        problem = Problem("", text, display_path(source), fix=fix)
    raise TargetError([problem])


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


def _read_local(r: Reader, t: dict[str, Any], where: str, lines: KeyLines) -> Target:
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
        source=r.file,
        lines=lines,
    )


def _read_target(r: Reader, name: str, t: dict[str, Any], where: str, lines: KeyLines) -> Target:
    r.check_keys(t, where, _TARGET_KEYS)
    url = _read_url(r, t, where)
    api = cast(TargetApi, r.string(t, "api", where, choices=APIS))
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
        source=r.file,
        lines=lines,
    )


def _read_url(r: Reader, t: dict[str, Any], where: str) -> str:
    """A base URL: http(s), a host, no credentials, query or fragment (they leak when shown)."""
    url = r.string(t, "url", where)
    path = join(where, "url")
    if not url:
        return url
    if url_has_secret_parts(url):  # the value is shown only with its secret parts masked
        r.problem(
            path,
            "must not carry credentials, a query or a fragment: a target url is a base URL "
            "and would be shown in plans, briefs and artifacts",
            value=redact_url(url),
            fix="remove the parts shown as ***; name the secret's environment variable in "
            'credentials = { token = "POSTHOG_TOKEN" } instead',
        )
        return ""
    if not re.match(r"^https?://[^/\s]+", url):
        r.problem(
            path,
            "must be an http:// or https:// URL",
            value=url,
            fix='write e.g. url = "https://capture.staging.example.com"',
        )
        return ""
    try:
        parse_origin(url)
    except ValueError as exc:  # a bad port, say: found here rather than when the run starts
        r.problem(path, str(exc), fix='write it as "https://host[:port][/path]"')
        return ""
    return url


def _read_credentials(r: Reader, t: dict[str, Any], where: str, api: str) -> dict[str, str]:
    path = join(where, "credentials")
    table = r.table(t, "credentials", where)
    needed = credential_keys(api)
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
        elif message := bad_variable_name(var):  # never echoed: it may be a pasted secret
            r.problem(join(path, key), message, fix=variable_name_fix(key))
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


__all__ = [
    "BUILTIN_LOCAL",
    "Target",
    "load_targets",
    "resolve_target",
]
