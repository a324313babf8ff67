"""Profiles and targets for the guard tests: TOML text written to a temp dir, with overrides."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomlkit

from loadgen.arrivals.plan import Plan
from loadgen.guard.rules import Verdict, evaluate
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import Environment, GuardLimits, Target

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DELETE = object()  # an override value that removes the key

BASE: dict[str, Any] = {
    "name": "t",
    "description": "guard test profile",
    "apps_enabled": False,
    "schedule": {"start": datetime.fromisoformat("2026-12-01T10:00:00+01:00")},  # a Tuesday
    "load": {
        "model": "arrival-rate",
        "start_rate": 1,
        "max_in_flight": 50,
        "stages": [{"duration": "10s", "target": 50}],
    },
    "users": {"count": 100_000, "skew": 0.0},
    "scenarios": [{"name": "track", "api": "posthog", "kind": "track", "weight": 1}],
}


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is DELETE:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def profile_toml(**overrides: Any) -> str:
    """The base profile with top-level keys replaced (tables are merged key by key)."""
    return tomlkit.dumps(_merge(BASE, overrides))


def stages(*pairs: tuple[float | str, float]) -> list[dict[str, Any]]:
    """[[load.stages]] from (duration, target) pairs; a number duration is seconds."""
    return [{"duration": d, "target": t} for d, t in pairs]


def write_profile(tmp: Path, name: str = "p", **overrides: Any) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(profile_toml(**overrides), encoding="utf-8")
    return path


def load(tmp: Path, **overrides: Any) -> Profile:
    return load_profile(write_profile(tmp, **overrides))


def target(
    environment: Environment = "staging", trusted_keys: tuple[str, ...] = (), **limits: Any
) -> Target:
    return Target(
        name="staging" if environment != "production" else "prod",
        url="https://capture.example.com",
        api="posthog",
        transport="auto",
        environment=environment,
        trusted_keys=trusted_keys,
        limits=GuardLimits(**limits),
        source="targets.toml",
    )


def verdict(tmp: Path, tgt: Target | None = None, **overrides: Any) -> Verdict:
    return evaluate(Plan.build(load(tmp, **overrides), tgt or target()), approval=None, now=NOW)


def rules(v: Verdict) -> set[str]:
    return {f.rule for f in v.findings}
