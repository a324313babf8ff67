"""Fuzz: mutations of a valid profile go through the loader, the plan and the guard, and the
only exception that may come out is loadgen's own input error (exit 3, never a traceback).

Each example takes profiles/demo.toml (with a schedule, so the calendar rules run), applies
a few mutations (a value replaced by another type, an extreme int, nan/inf, a huge string,
an empty list or a nested table; a key deleted; an unknown key added), writes it back as
TOML with tomlkit and runs what `lint`, `plan` and `run --dry-run` run.
"""

from __future__ import annotations

import contextlib
import copy
import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import tomlkit
from hypothesis import HealthCheck, given, settings

from loadgen.arrivals.plan import Plan
from loadgen.errors import InvalidInputError
from loadgen.guard.lint import preflight
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL, Target
from loadgen.report.plan_text import render_plan
from loadgen.scenarios import ScenarioSet
from loadgen.scenarios.replay import check_replay_files

DEMO = Path(__file__).parent.parent / "profiles" / "demo.toml"
BASE: dict[str, Any] = tomllib.loads(DEMO.read_text(encoding="utf-8"))
BASE["schedule"] = {"start": datetime(2026, 12, 1, 10, tzinfo=UTC)}
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
STAGING = Target(
    name="staging",
    url="https://staging.example.invalid",
    api="posthog",
    transport="fast",
    environment="staging",
)

CREDENTIALS = {
    "posthog": {"token": "phc_fuzz"},
    "customerio": {"site_id": "site", "api_key": "key"},
    "segment": {"write_key": "wk"},
}
Key = str | int
scalars = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 5e-324]),
    st.text(max_size=30),
    st.sampled_from(["", "x" * 20_000, "10s", "-5s", "1e9h", "{{int:9..1}}", "{{text:999999}}"]),
    st.sampled_from(
        [
            "{{text:³}}",  # a Unicode digit: isdigit() says yes, int() says no
            "{{int:1..99999999999999999999}}",  # renders past 64 bits
            "{{float:-1e308..1e308}}",
            "{{choice:}}",
            "{{",
            "{{timestamp:x}}",
            "{{user}}{{uuid}}{{counter}}",
        ]
    ),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from([date(2026, 12, 1), time(10, 0), datetime(9999, 12, 31, tzinfo=UTC)]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    ),
    max_leaves=8,
) | st.sampled_from([[], {}, [{}], {"a": {"b": {"c": {}}}}]).map(copy.deepcopy)  # not shared


def paths(value: Any, prefix: tuple[Key, ...] = ()) -> list[tuple[Key, ...]]:
    """Every key path in `value`, parents before children."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutate(data: dict[str, Any], draw: st.DataObject) -> None:
    path = draw.draw(st.sampled_from(paths(data)), label="path")
    *parents, last = path
    holder: Any = data
    for key in parents:
        holder = holder[key]
    action = draw.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
    if action == "replace":
        holder[last] = draw.draw(values, label="value")
    elif action == "delete":
        del holder[last]
    elif isinstance(holder[last], dict):
        holder[last][draw.draw(st.text(min_size=1, max_size=10), label="new key")] = draw.draw(
            values, label="new value"
        )
    elif isinstance(holder[last], list):
        holder[last].append(draw.draw(values, label="new item"))


def through_everything(path: Path) -> None:
    """What lint, plan and run --dry-run do with a profile, and its first requests."""
    profile = load_profile(path)
    for target in (BUILTIN_LOCAL, STAGING):
        plan = Plan.build(profile, target)
        render_plan(plan)
        plan.to_dict()
        preflight(plan, now=NOW)  # the guard as lint, brief and run apply it
    check_replay_files(profile)
    scenarios = ScenarioSet(
        Plan.build(profile, BUILTIN_LOCAL), CREDENTIALS, clock=lambda: NOW.timestamp()
    )
    for index in range(len(profile.scenarios)):
        for n in (1, 2):
            scenarios.build(index, n)


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data(), st.integers(min_value=1, max_value=4))
def test_mutated_profiles_only_ever_raise_input_errors(
    tmp_path: Path, data: st.DataObject, mutations: int
) -> None:
    profile = copy.deepcopy(BASE)
    for _ in range(mutations):
        mutate(profile, data)
    try:
        text = tomlkit.dumps(profile)
    except (TypeError, ValueError):
        return  # not expressible in TOML (e.g. a non-string key): nothing a user can write
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(InvalidInputError):  # the one way out: file, line and key
        through_everything(path)
