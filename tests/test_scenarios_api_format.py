"""What every API shares: run-unique ids, historical timestamps, the API limits a scenario
is checked against, and the refusal of unsendable or credential-less scenario sets."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.apis import check_scenario
from loadgen.arrivals.plan import Plan, schedule_of
from loadgen.errors import ProfileError
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from loadgen.scenarios import ScenarioSet
from loadgen.scenarios.api_format import SERIAL_STRIDE, Ids, Timeline

PROFILES = sorted(Path(__file__).parent.parent.joinpath("profiles").glob("*.toml"))
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def test_ids_are_unique_across_events_and_workers() -> None:
    ids = Ids(nonce=1)
    serials = [n * SERIAL_STRIDE + i for n in range(1, 400) for i in range(5)]
    uuids = [ids.uuid(s) for s in serials]
    ulids = [ids.ulid(s, 1767225600.0) for s in serials]  # all in the same millisecond
    assert all(UUID4.match(u) for u in uuids)
    assert len(set(uuids)) == len(set(ulids)) == len(serials)


def test_runs_with_different_nonces_get_different_ids() -> None:
    assert Ids(nonce=1).uuid(SERIAL_STRIDE) != Ids(nonce=2).uuid(SERIAL_STRIDE)
    assert Ids(nonce=1).uuid(SERIAL_STRIDE) == Ids(nonce=1).uuid(SERIAL_STRIDE)


@given(st.floats(0, 2**47 / 1000), st.integers(0, 2**50))
def test_ulid_starts_with_the_event_millisecond(ts: float, serial: int) -> None:
    ulid = Ids(nonce=3).ulid(serial, ts)
    assert len(ulid) == 26 and all(c in CROCKFORD for c in ulid) and ulid[0] <= "7"
    decoded = 0
    for char in ulid[:10]:  # 50 bits: 2 zero bits, then the 48-bit millisecond time
        decoded = decoded * 32 + CROCKFORD.index(char)
    assert decoded == math.floor(ts * 1000)


def test_historical_timestamps_increase_with_n_and_end_at_the_start() -> None:
    timeline = Timeline(lambda: 1000.0, history_s=100.0, planned=10)
    times = [t for n in range(1, 11) for t in timeline.times(n, 3)]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert 900.0 < times[0] < times[-1] < 1000.0
    assert timeline.times(25, 1) == [1000.0]  # beyond the plan: clamped to the run start


def test_now_timestamps_read_the_clock() -> None:
    ticks = iter([5.0, 6.0, 7.0])
    timeline = Timeline(lambda: next(ticks), history_s=0.0, planned=10)
    assert timeline.times(1, 2) == [5.0, 5.0]  # one read per request
    assert timeline.times(2, 1) == [6.0]


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_planned_requests_match_the_schedule(path: Path) -> None:
    """The count the scenarios spread history over (the plan's area) is the schedule's."""
    profile = load_profile(path)
    count = sum(1 for _ in schedule_of(profile).offsets())
    assert int(Plan.build(profile, BUILTIN_LOCAL).schedule.total_area) == count


# (api, kind, api_version, batch_size, events, historical, words; "" = no problem)
CHECKS = [
    ("customerio", "batch", "v1", 10, (), False, "no batch endpoint"),  # v1 cannot batch
    ("customerio", "batch", "v2", 10, (), False, ""),  # v2 can
    ("customerio", "track", "v1", 1, ("x" * 101,), False, "at most 100 bytes"),  # name limit
    ("customerio", "track", "v1", 1, ("é" * 50,), False, ""),  # 100 bytes exactly
    ("segment", "batch", "v1", 2501, (), False, "at most 2500 events"),  # Segment's cap
    ("segment", "batch", "v1", 2500, (), False, ""),  # at the cap
    ("posthog", "track", "v1", 1, (), True, "only on /batch/"),  # flag ignored elsewhere
    ("posthog", "batch", "v1", 100, (), True, ""),  # historical import
    ("posthog", "track", "v1", 1, ("$create_alias",), False, 'kind = "alias"'),  # wrong shape
    ("posthog", "batch", "v1", 5, ("$identify",), False, 'kind = "identify"'),  # wrong shape
    ("posthog", "track", "v1", 1, ("$pageview",), False, ""),  # ordinary $-events are fine
    ("mixpanel", "track", "v1", 1, (), False, "unknown API"),
]


@pytest.mark.parametrize(
    ("api", "kind", "version", "batch_size", "events", "historical", "words"), CHECKS
)
def test_check_scenario(
    api: str,
    kind: str,
    version: str,
    batch_size: int,
    events: tuple[str, ...],
    historical: bool,
    words: str,
) -> None:
    problems = check_scenario(api, kind, version, batch_size, events=events, historical=historical)
    if words:
        assert len(problems) == 1 and words in problems[0], problems
    else:
        assert problems == []


PROFILE = """name = "x"
[load]
start_rate = 1
[[load.stages]]
duration = "1s"
target = 1
[[scenarios]]
api = "{api}"
kind = "batch"
batch_size = 3
"""


def test_unsendable_scenarios_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.format(api="customerio"))
    # the profile reader refuses it with the scenario's place, before any run starts
    with pytest.raises(ProfileError, match=r"scenarios\[0\]: Customer.io Track v1 has no batch"):
        load_profile(path)


def test_missing_credentials_name_the_key_not_a_value(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.format(api="segment"))
    with pytest.raises(ValueError, match="no write_key given for the segment API"):
        ScenarioSet(
            Plan.build(load_profile(path), BUILTIN_LOCAL), {"posthog": {"token": "secret-token"}}
        )


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profiles_build(path: Path) -> None:
    profile = load_profile(path)
    credentials = {
        "posthog": {"token": "t"},
        "customerio": {"site_id": "s", "api_key": "k"},
        "segment": {"write_key": "w"},
    }
    scenarios = ScenarioSet(Plan.build(profile, BUILTIN_LOCAL), credentials, seed=1)
    assert scenarios.names == [s.name for s in profile.scenarios]
    for index, spec in enumerate(profile.scenarios):
        built = scenarios.build(index, 1 + index)
        assert built.events == spec.batch_size and built.request.body
    scenarios.close()
