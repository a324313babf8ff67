"""Payload limits per API: the size estimate is an upper bound, and each limit holds at its edge."""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.guard.findings import Finding
from loadgen.guard.payload import estimate, id_bytes, limits_for, max_batch_size
from loadgen.guard.rules import evaluate
from loadgen.inputs.models import Profile
from tests.guard_support import NOW, load, stages, target, verdict

SLOW = {"start_rate": 0, "stages": stages((10, 5), (10, 5))}  # keeps other rules quiet
USERS = {"count": 100, "skew": 0.0, "ordered": True}


def scenario(api: str, kind: str, **extra: Any) -> dict[str, Any]:
    version = {"api_version": "v2"} if api == "customerio" else {}
    return {"name": "s", "api": api, "kind": kind, "weight": 1, **version, **extra}


def payload_findings(tmp: Path, spec: dict[str, Any], users: dict[str, Any] = USERS) -> list[Any]:
    v = verdict(tmp, load=SLOW, users=users, scenarios=[spec])
    return [f for f in v.findings if f.rule == "payload.too-large"]


def profile_with(tmp: Path, spec: dict[str, Any]) -> Profile:
    return load(tmp, load=SLOW, users=USERS, scenarios=[spec])


@pytest.mark.parametrize(
    ("api", "limit"),
    [
        ("posthog", 20_000_000),  # /batch/ body
        ("segment", 500_000),  # /v1/batch body
        ("customerio", 500_000),  # /api/v2/batch body
    ],
)
def test_batch_bytes_at_the_edge(tmp_path: Path, api: str, limit: int) -> None:
    big = {"blob": "{{text:20000}}"}  # 20 KB events, under every per-event limit
    probe = profile_with(tmp_path, scenario(api, "batch", batch_size=2, properties=big))
    edge = max_batch_size(probe.scenarios[0], probe.users)
    assert limits_for(probe.scenarios[0]).batch_bytes == limit
    # the largest batch that fits passes ...
    at_edge = scenario(api, "batch", batch_size=edge, properties=big)
    assert payload_findings(tmp_path, at_edge) == []
    # ... one more event does not
    over = scenario(api, "batch", batch_size=edge + 1, properties=big)
    (finding,) = payload_findings(tmp_path, over)
    assert finding.limit == limit and finding.path == "scenarios[0].batch_size"
    assert finding.value > limit and f"batch_size <= {edge}" in (finding.fix or "")


def test_segment_caps_events_per_batch(tmp_path: Path) -> None:
    # 2500 events is allowed by count (the byte limit refuses it on its own)
    profile = profile_with(tmp_path, scenario("segment", "batch", batch_size=2500))
    assert {f.limit for f in findings_of(profile)} == {500_000}
    # the profile reader refuses 2501 too; the guard keeps the check for profiles built in code
    over = replace(profile, scenarios=(replace(profile.scenarios[0], batch_size=2501),))
    assert {f.limit for f in findings_of(over)} == {2500, 500_000}


def test_customerio_event_names(tmp_path: Path) -> None:
    profile = profile_with(tmp_path, scenario("customerio", "track", events=["e" * 100]))
    assert findings_of(profile) == []  # 100 bytes is the limit
    # (the reader refuses longer names as well)
    long = replace(profile, scenarios=(replace(profile.scenarios[0], events=("é" * 51,)),))
    assert [(f.path, f.limit) for f in findings_of(long)] == [("scenarios[0].events", 100)]


def findings_of(profile: Profile) -> list[Finding]:
    v = evaluate(Plan.build(profile, target()), approval=None, now=NOW)
    return [f for f in v.findings if f.rule == "payload.too-large"]


# (api, kind, limit in bytes, what it measures)
EVENT_LIMITS = [
    ("posthog", "track", 1_000_000, "event"),  # one event (the 2 MB request cap is looser)
    ("posthog", "batch", 1_000_000, "event"),  # one event inside a batch
    ("segment", "track", 32_000, "request"),  # one call, envelope included
    ("segment", "batch", 32_000, "event"),  # one message of a batch
    ("customerio", "track", 32_000, "request"),  # one v2 entity call
]


@pytest.mark.parametrize(("api", "kind", "limit", "measure"), EVENT_LIMITS)
def test_event_bytes_at_the_edge(
    tmp_path: Path, api: str, kind: str, limit: int, measure: str
) -> None:
    base = estimate(profile_with(tmp_path, scenario(api, kind)).scenarios[0], load_users(tmp_path))
    size = base.event_bytes if measure == "event" else base.request_bytes
    # `{}` (2 bytes) becomes `{"blob":"<N letters>"}` (N + 11 bytes)
    room = limit - size + 2 - len('{"blob":""}')
    fits = scenario(api, kind, properties={"blob": f"{{{{text:{room}}}}}"})
    assert payload_findings(tmp_path, fits) == []  # exactly at the limit
    over = scenario(api, kind, properties={"blob": f"{{{{text:{room + 1}}}}}"})
    (finding,) = payload_findings(tmp_path, over)  # one byte over
    assert finding.limit == limit and finding.value == limit + 1
    assert finding.path == "scenarios[0].properties"


def load_users(tmp: Path) -> Any:
    return profile_with(tmp, scenario("posthog", "track")).users


def test_customerio_v1_request_limit(tmp_path: Path) -> None:
    spec = scenario("customerio", "track", api_version="v1", properties={"b": "{{text:98000}}"})
    assert payload_findings(tmp_path, spec) == []  # v1 only caps event data, at 100 KB
    spec["api_version"] = "v2"
    assert [f.limit for f in payload_findings(tmp_path, spec)] == [32_000]


# (identify properties, finding limit or None): a person's attributes
CIO_FIELDS: list[tuple[dict[str, Any], int | None]] = [
    ({"properties": {"a": "x" * 1000}}, None),  # an attribute value of exactly 1000 bytes
    ({"properties": {"a": "x" * 1001}}, 1000),  # one byte over
    ({"properties": {"a": "é" * 500}}, None),  # bytes, not characters: 500 × 2 = 1000
    ({"properties": {"a": "é" * 501}}, 1000),
    ({"properties": {f"k{i}": 1 for i in range(300)}}, None),  # 300 attributes
    ({"properties": {f"k{i}": 1 for i in range(301)}}, 300),
]


@pytest.mark.parametrize(("override", "limit"), CIO_FIELDS)
def test_customerio_field_limits(
    tmp_path: Path, override: dict[str, Any], limit: int | None
) -> None:
    found = payload_findings(tmp_path, scenario("customerio", "identify", **override))
    assert [f.limit for f in found] == ([limit] if limit else [])


# (id_prefix, refused?)  ids are counted in UTF-8 bytes: "é" is 2
ID_PREFIXES = [
    ("é" * 69 + "a", False),  # 139 bytes + 3 digits (count 100) + 8 suffix bytes = 150
    ("é" * 70, True),  # 140 + 11 = 151
]


@pytest.mark.parametrize(("prefix", "refused"), ID_PREFIXES)
def test_customerio_id_limit(tmp_path: Path, prefix: str, refused: bool) -> None:
    users = {**USERS, "id_prefix": prefix}
    found = payload_findings(tmp_path, scenario("customerio", "track"), users)
    assert [f.path for f in found] == (["users.id_prefix"] if refused else [])


TEMPLATES = st.sampled_from(
    [
        ("{{uuid}}", lambda: str(uuid.uuid4())),
        ("{{int:-5000..100}}", lambda: "-5000"),
        ("{{float:0.5..99999.9}}", lambda: "99999.9"),
        ("{{choice:free,enterprise}}", lambda: "enterprise"),
        ("{{timestamp}}", lambda: "2026-12-01T10:00:00.000Z"),
        ("{{counter}}", lambda: "123456789012"),
        ("{{text:64}}", lambda: "x" * 64),
    ]
)
# TOML text: no surrogates, and no braces (they would read as template syntax)
CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="{}")
LITERAL = st.text(CHARS, max_size=40)
VALUE = st.one_of(
    LITERAL,
    st.integers(-(2**63), 2**63 - 1),  # TOML integers are 64-bit
    st.floats(-1e15, 1e15),
    st.booleans(),
    st.tuples(LITERAL, TEMPLATES, LITERAL),
)


@settings(max_examples=80, deadline=None)
@given(props=st.dictionaries(st.text(CHARS, min_size=1, max_size=20), VALUE, max_size=8))
def test_estimate_bounds_a_realistic_event(props: dict[str, Any]) -> None:
    """A PostHog event and a Segment message as SDKs build them never exceed the estimate."""
    toml_props, rendered = {}, {}
    for key, value in props.items():
        if isinstance(value, tuple):
            before, (template, render), after = value
            toml_props[key] = f"{before}{template}{after}"
            rendered[key] = f"{before}{render()}{after}"
        else:
            toml_props[key] = rendered[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        users = {"count": 5000, "skew": 1.0, "id_prefix": "user-"}
        spec = scenario("posthog", "track", events=["$pageview"], properties=toml_props)
        profile = load(Path(tmp), users=users, scenarios=[spec])
    size = estimate(profile.scenarios[0], profile.users)
    user, anon = "user-4999-alias", str(uuid.uuid4())
    posthog = {
        "api_key": "phc_" + "x" * 60,
        "event": "$pageview",
        "distinct_id": user,
        "properties": {
            **rendered,
            "$lib": "loadgen",
            "$lib_version": "0.1.0",
            "distinct_id": user,
            "$anon_distinct_id": anon,
        },
        "timestamp": "2026-12-01T10:00:00.000Z",
        "uuid": str(uuid.uuid4()),
    }
    segment = {
        "type": "track",
        "event": "$pageview",
        "userId": user,
        "anonymousId": anon,
        "properties": rendered,
        "timestamp": "2026-12-01T10:00:00.000Z",
        "messageId": str(uuid.uuid4()),
        "context": {"library": {"name": "loadgen", "version": "0.1.0"}},
    }
    assert len(orjson.dumps(posthog)) <= size.event_bytes
    assert len(orjson.dumps(segment)) <= size.event_bytes
    assert id_bytes(profile.users) >= len(user)
