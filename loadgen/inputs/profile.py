"""The profile reader: builds the frozen models (`inputs/models.py`) from a TOML file, strictly.

`load_profile(path)` returns a `Profile` (with the line of each key, so no one reads the
file again to place a finding) or raises `ProfileError` listing every problem (file:line,
key path, value, fix). Validation never changes the input; defaults are filled in the
models only.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

import orjson

from loadgen.apis import APIS, KINDS, RULES, VERSIONS, Api, Kind, check_scenario
from loadgen.errors import ProfileError
from loadgen.inputs.models import (
    MAX_BATCH_SIZE,
    LoadSpec,
    Profile,
    ReplaySpec,
    RetrySpec,
    ScenarioSpec,
    StageSpec,
    UsersSpec,
)
from loadgen.inputs.templates import check as check_properties
from loadgen.inputs.threshold_syntax import read_thresholds
from loadgen.inputs.tomlsource import load_toml
from loadgen.inputs.validation import Reader, join

MAX_IN_FLIGHT = 100_000
MAX_USERS = 100_000_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def canonical_hash(data: dict[str, Any]) -> str:
    """sha256 of the parsed values: comments, order and layout do not change it."""
    body = orjson.dumps(_normalise(data), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # `10` and `10.0` are the same rate
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def load_profile(path: Path) -> Profile:
    """Read and validate a profile file; raise `ProfileError` with every problem."""
    data, lines = load_toml(path, kind="profile", error=ProfileError)
    reader = Reader(str(path), lines)
    profile = _read_profile(reader, data, path)
    if reader.problems:
        raise ProfileError(reader.problems)
    return profile


_TOP_KEYS = (
    "name",
    "description",
    "apps_enabled",
    "load",
    "scenarios",
    "users",
    "schedule",
    "thresholds",
    "verdict",
    "retries",
)


def _read_profile(r: Reader, data: dict[str, Any], path: Path) -> Profile:
    r.check_keys(data, "", _TOP_KEYS)
    name = r.string(data, "name", "")
    if name and not NAME_RE.match(name):
        r.problem(
            "name",
            "must be 1-64 letters, digits, '.', '_' or '-'",
            value=name,
            fix="it names the results file, so keep it filename-safe",
        )
    apps = data.get("apps_enabled")
    if apps is not None and not isinstance(apps, bool):
        r.problem("apps_enabled", "must be true or false", value=apps)
        apps = None
    scenarios = _read_scenarios(r, data)
    return Profile(
        name=name,
        description=r.string(data, "description", "", "", max_len=2000),
        load=_read_load(r, r.table(data, "load", "", required=True)),
        scenarios=scenarios,
        users=_read_users(r, r.table(data, "users", "")),
        start=_read_schedule(r, r.table(data, "schedule", "")),
        apps_enabled=apps,
        thresholds=read_thresholds(
            r, r.table(data, "thresholds", ""), tuple(s.name for s in scenarios)
        ),
        fail_on_generator_bottleneck=_read_verdict(r, r.table(data, "verdict", "")),
        retries=_read_retries(r, r.table(data, "retries", "")),
        path=path,
        content_hash=canonical_hash(data),
        lines=r.lines,
    )


def _read_load(r: Reader, table: dict[str, Any]) -> LoadSpec:
    r.check_keys(table, "load", ("model", "start_rate", "stages", "max_in_flight", "timeout"))
    model = r.string(table, "model", "load", "arrival-rate", choices=("arrival-rate", "vus"))
    if model == "vus":
        r.problem(
            "load.model",
            'the "vus" (closed) model is not available yet',
            fix='use model = "arrival-rate" (open model: rates in requests/s)',
        )
    stages_raw = table.get("stages", [])
    if not isinstance(stages_raw, list) or not stages_raw:
        r.problem(
            "load.stages",
            "needs at least one stage",
            fix="add [[load.stages]] entries with `duration` and `target`",
        )
        stages_raw = []
    stages = []
    known_problems = len(r.problems)
    for i, stage in enumerate(stages_raw):
        where = join("load.stages", i)
        if not isinstance(stage, dict):
            r.problem(where, "must be a table with `duration` and `target`", value=stage)
            continue
        r.check_keys(stage, where, ("duration", "target"))
        stages.append(
            StageSpec(
                r.duration(stage, "duration", where),
                r.number(stage, "target", where, unit=" requests/s"),
            )
        )
    # A stage whose duration was refused counts 0 s: saying "zero seconds" too would mislead.
    if stages and len(r.problems) == known_problems and sum(s.duration_s for s in stages) <= 0:
        r.problem("load.stages", "the stages add up to zero seconds", fix="give a stage a duration")
    return LoadSpec(
        model="arrival-rate",
        start_rate=r.number(table, "start_rate", "load", 0.0, unit=" requests/s"),
        stages=tuple(stages),
        max_in_flight=int(
            r.number(
                table, "max_in_flight", "load", 256, minimum=1, maximum=MAX_IN_FLIGHT, integer=True
            )
        ),
        timeout_s=r.duration(table, "timeout", "load", 10.0),
    )


_SCENARIO_KEYS = (
    "name",
    "api",
    "kind",
    "weight",
    "batch_size",
    "event",
    "events",
    "properties",
    "gzip",
    "historical",
    "history",
    "api_version",
    "replay",
)


def _read_scenarios(r: Reader, data: dict[str, Any]) -> tuple[ScenarioSpec, ...]:
    tables = r.table_list(data, "scenarios", "")
    if not tables and data.get("scenarios", []) == []:  # missing, or `scenarios = []`
        r.problem(
            "scenarios",
            "at least one scenario is needed",
            fix="add a [[scenarios]] table with `api`, `kind` and `weight`",
        )
    result: list[ScenarioSpec] = []
    for i, table in enumerate(tables):
        spec = _read_scenario(r, table, join("scenarios", i), i)
        if any(s.name == spec.name for s in result):
            r.problem(
                join(join("scenarios", i), "name"),
                "duplicate scenario name",
                value=spec.name,
                fix="give each scenario its own name",
            )
        result.append(spec)
    return tuple(result)


def _read_scenario(r: Reader, t: dict[str, Any], where: str, index: int) -> ScenarioSpec:
    r.check_keys(t, where, _SCENARIO_KEYS)
    api = cast(Api, r.string(t, "api", where, choices=APIS))
    kind = cast(Kind, r.string(t, "kind", where, choices=KINDS))
    name = r.string(t, "name", where, f"{kind or 'scenario'}-{index}")
    batch_size = int(
        r.number(t, "batch_size", where, 1, minimum=1, maximum=MAX_BATCH_SIZE, integer=True)
    )
    if batch_size > 1 and kind != "batch":
        r.problem(
            join(where, "batch_size"),
            'only a kind = "batch" scenario sends several events per request',
            value=batch_size,
            fix='set kind = "batch" or remove it',
        )
    events = _read_events(r, t, where, kind)
    properties = _read_properties(r, t, where)
    version = _read_api_version(r, t, where, api)
    historical = r.boolean(t, "historical", where, False)
    for problem in check_properties(properties):
        r.problem(
            join(where, "properties"),
            problem,
            fix="templates are {{counter}}, {{choice:a,b}}, {{int:1..9}}, {{float:0..1}}, "
            "{{uuid}}, {{timestamp}}, {{user}}, {{text:N}}",
        )
    if api and kind:
        for problem in check_scenario(
            api, kind, version, batch_size, events=events, historical=historical
        ):
            r.problem(where, problem)
    history = r.duration(t, "history", where, 0.0, maximum=20 * 365 * 86400.0)
    return ScenarioSpec(
        name=name,
        api=api,
        kind=kind,
        weight=r.number(t, "weight", where, 1.0, exclusive_min=True, maximum=1e6),
        batch_size=batch_size,
        events=events,
        properties=properties,
        gzip=r.boolean(t, "gzip", where, False),
        historical=historical,
        history_s=history,
        api_version=cast(Literal["v1", "v2"], version),
        replay=_read_replay(r, t, where),
    )


def _read_properties(r: Reader, t: dict[str, Any], where: str) -> dict[str, Any]:
    properties = t.get("properties", {})
    if not isinstance(properties, dict):
        r.problem(
            join(where, "properties"),
            "must be a table",
            value=properties,
            fix='write `properties = { plan = "{{choice:free,pro}}" }`',
        )
        return {}
    return properties


def _read_api_version(r: Reader, t: dict[str, Any], where: str, api: str) -> str:
    """The scenario's API version; only an API with more than one version takes the key."""
    version = r.string(t, "api_version", where, VERSIONS[0], choices=VERSIONS)
    rules = RULES.get(api)
    if rules is not None and version and version not in rules.versions:
        versioned = " and ".join(a.title for a in RULES.values() if len(a.versions) > 1)
        r.problem(
            join(where, "api_version"),
            f"only {versioned} scenarios have an API version",
            fix="remove it",
        )
    return version


def _read_events(r: Reader, t: dict[str, Any], where: str, kind: str) -> tuple[str, ...]:
    if "event" in t and "events" in t:
        r.problem(join(where, "events"), "give `event` or `events`, not both")
    if "event" in t:
        return (r.string(t, "event", where, max_len=200),)
    events = r.string_list(t, "events", where)
    for j, event in enumerate(events):
        if not event or len(event) > 200:
            r.problem(
                join(join(where, "events"), j), "event names are 1-200 characters", value=event
            )
    return tuple(events) or (("pageview",) if kind in ("track", "batch") else ())


def _read_replay(r: Reader, t: dict[str, Any], where: str) -> ReplaySpec | None:
    if "replay" not in t:
        return None
    path = join(where, "replay")
    table = r.table(t, "replay", where)
    r.check_keys(table, path, ("file", "format", "on_error"))
    file = r.string(table, "file", path)
    default_format = "csv" if file.lower().endswith(".csv") else "ndjson"
    return ReplaySpec(
        file=file,
        format=cast(
            Literal["ndjson", "csv"],
            r.string(table, "format", path, default_format, choices=("ndjson", "csv")),
        ),
        on_error=cast(
            Literal["fail", "skip"],
            r.string(table, "on_error", path, "fail", choices=("fail", "skip")),
        ),
    )


def _read_users(r: Reader, t: dict[str, Any]) -> UsersSpec:
    r.check_keys(t, "users", ("count", "skew", "id_prefix", "ordered"))
    return UsersSpec(
        count=int(r.number(t, "count", "users", 1000, minimum=1, maximum=MAX_USERS, integer=True)),
        skew=r.number(t, "skew", "users", 1.0, maximum=10.0),
        id_prefix=r.string(t, "id_prefix", "users", "user-", max_len=100),
        ordered=r.boolean(t, "ordered", "users", False),
    )


# A scheduled run is near the present: a year outside this is a typo, and the bound keeps
# the guard's calendar arithmetic (time zones, start + duration) far from datetime's 1..9999.
START_YEARS = (2000, 2999)


def _read_schedule(r: Reader, t: dict[str, Any]) -> datetime | None:
    r.check_keys(t, "schedule", ("start",))
    value = t.get("start")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        r.problem(
            "schedule.start",
            "must be an RFC 3339 date-time with an offset",
            value=t.get("start"),
            fix="write e.g. start = 2026-12-01T10:00:00+01:00",
        )
        return None
    first, last = START_YEARS
    if not first <= value.year <= last:
        r.problem(
            "schedule.start",
            f"must be in the years {first} to {last}",
            value=value.isoformat(),
            fix="check the year: write e.g. start = 2026-12-01T10:00:00+01:00",
        )
        return None
    return value


def _read_verdict(r: Reader, table: dict[str, Any]) -> bool:
    """`[verdict] fail_on_generator_bottleneck`: a run in which loadgen itself was the
    bottleneck fails (exit 99) instead of passing with a warning."""
    r.check_keys(table, "verdict", ("fail_on_generator_bottleneck",))
    return r.boolean(table, "fail_on_generator_bottleneck", "verdict", False)


def _read_retries(r: Reader, t: dict[str, Any]) -> RetrySpec:
    r.check_keys(t, "retries", ("enabled", "max_retries", "max_backoff"))
    return RetrySpec(
        enabled=r.boolean(t, "enabled", "retries", False),
        max_retries=int(r.number(t, "max_retries", "retries", 3, maximum=10, integer=True)),
        max_backoff_s=r.duration(t, "max_backoff", "retries", 30.0),
    )


__all__ = ["canonical_hash", "load_profile"]
