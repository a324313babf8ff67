"""Golden tests: the exact request per API and operation matches a fixture written by hand
from APIS.md (tests/golden/*.json). Secrets are redacted, and volatile ids (UUIDs, ULIDs)
are replaced by placeholders after their shape is checked; timestamps come from a fixed
clock, so they are compared exactly."""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen import __version__
from loadgen.arrivals.plan import Plan
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from loadgen.scenarios import BuiltRequest, ScenarioSet

GOLDEN = Path(__file__).parent / "golden"
NOW = 1767225600.0  # 2026-01-01T00:00:00Z
CREDENTIALS = {
    "posthog": {"token": "phc_golden_token"},
    "customerio": {"site_id": "golden-site", "api_key": "golden-key"},
    "segment": {"write_key": "golden-write-key"},
}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")

# One journey per profile (a single user): each step builds (scenario, n) in order.
JOURNEYS: dict[str, list[tuple[str, int, str]]] = {
    "posthog.toml": [
        ("track", 1, "posthog_track_anonymous"),  # before identify: the anonymous id
        ("identify", 2, "posthog_identify"),  # links the anonymous id, person props in $set
        ("track", 3, "posthog_track"),  # after identify: the user id; counter is 2
        ("alias", 4, "posthog_alias"),
        ("batch", 5, "posthog_batch"),
    ],
    "posthog_import.toml": [("history", 1, "posthog_batch_historical")],
    "customerio_v1.toml": [
        ("track", 1, "customerio_v1_track_anonymous"),
        ("identify", 2, "customerio_v1_identify"),
        ("track", 3, "customerio_v1_track"),
        ("merge", 4, "customerio_v1_merge"),
    ],
    "customerio_v2.toml": [
        ("identify", 1, "customerio_v2_identify"),
        ("track", 2, "customerio_v2_track"),
        ("merge", 3, "customerio_v2_merge"),
        ("batch", 4, "customerio_v2_batch"),
    ],
    "segment.toml": [
        ("track", 1, "segment_track_anonymous"),
        ("identify", 2, "segment_identify"),
        ("track", 3, "segment_track"),
        ("alias", 4, "segment_alias"),
        ("batch", 5, "segment_batch"),
    ],
}
CASES = [
    (profile, steps[: i + 1]) for profile, steps in JOURNEYS.items() for i in range(len(steps))
]


def scenario_set(profile: str) -> ScenarioSet:
    return ScenarioSet(
        Plan.build(load_profile(GOLDEN / profile), BUILTIN_LOCAL),
        CREDENTIALS,
        seed=3,
        clock=lambda: NOW,
    )


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<redacted>" if k == "api_key" else normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        if UUID4.match(value):
            return "<uuid>"
        if ULID.match(value):
            return "<ulid>"
        return value.replace(__version__, "<version>")
    return value


def observed(built: BuiltRequest) -> dict[str, Any]:
    request = built.request
    headers = dict(request.headers)
    body = request.body
    if headers.get("Content-Encoding") == "gzip":
        body = zlib.decompress(body, wbits=31)
    return {
        "method": request.method,
        "path": request.path,
        "headers": [
            [k, "<redacted>" if k == "Authorization" else v.replace(__version__, "<version>")]
            for k, v in request.headers
        ],
        "key": built.key,
        "events": built.events,
        "body": normalise(orjson.loads(body)),
    }


def expected(fixture: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{fixture}.json").read_text())
    data.pop("comment", None)
    return data


@pytest.mark.parametrize(("profile", "steps"), CASES, ids=[s[-1][2] for _, s in CASES])
def test_request_matches_the_reviewed_fixture(
    profile: str, steps: list[tuple[str, int, str]]
) -> None:
    scenarios = scenario_set(profile)
    for name, n, _ in steps[:-1]:  # the journey so far
        scenarios.build(scenarios.names.index(name), n)
    name, n, fixture = steps[-1]
    assert observed(scenarios.build(scenarios.names.index(name), n)) == expected(fixture)


def test_every_fixture_is_used() -> None:
    used = {fixture for steps in JOURNEYS.values() for _, _, fixture in steps}
    assert used == {p.stem for p in GOLDEN.glob("*.json")}


# (profile, scenario, the Authorization header computed by hand)
AUTH = [
    (
        "customerio_v1.toml",
        "track",
        "Basic " + base64.b64encode(b"golden-site:golden-key").decode(),
    ),
    ("segment.toml", "track", "Basic " + base64.b64encode(b"golden-write-key:").decode()),
]


@pytest.mark.parametrize(("profile", "scenario", "header"), AUTH)
def test_basic_auth_header(profile: str, scenario: str, header: str) -> None:
    scenarios = scenario_set(profile)
    built = scenarios.build(scenarios.names.index(scenario), 1)
    assert dict(built.request.headers)["Authorization"] == header


def test_posthog_token_travels_in_the_body_only() -> None:
    scenarios = scenario_set("posthog.toml")
    built = scenarios.build(0, 1)
    assert orjson.loads(built.request.body)["api_key"] == "phc_golden_token"
    assert all("phc_golden_token" not in v for _, v in built.request.headers)


@pytest.mark.parametrize("profile", sorted(JOURNEYS))
def test_credentials_never_in_reprs(profile: str) -> None:
    scenarios = scenario_set(profile)
    built = scenarios.build(0, 1)
    secrets = [v for values in CREDENTIALS.values() for v in values.values()]
    secrets += [dict(built.request.headers).get("Authorization", "<none>")]
    for text in (repr(scenarios), repr(built), repr(scenarios._scenarios)):
        assert not any(secret in text for secret in secrets), text
