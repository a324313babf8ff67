"""The user population (Zipf sampling, top shares) and the journeys (an alias is never built
before the identify it depends on)."""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.mix import ScenarioMix
from loadgen.arrivals.plan import Plan
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from loadgen.scenarios import ScenarioSet
from loadgen.scenarios.users import (
    HEAD,
    Journeys,
    Population,
    Zipf,
    expected_top_shares,
    harmonic,
    hottest_user_share,
)

CREDENTIALS = {
    "posthog": {"token": "phc_test"},
    "customerio": {"site_id": "s", "api_key": "k"},
    "segment": {"write_key": "w"},
}


@given(
    st.integers(1, 100_000_000),
    st.floats(0, 10, allow_nan=False),
    st.integers(0, 2**63),
    st.integers(0, 2**40),
)
@settings(max_examples=60, deadline=None)
def test_draws_are_deterministic_and_within_count(
    count: int, skew: float, seed: int, serial: int
) -> None:
    one = Population(count, skew, "u-", seed)
    two = Population(count, skew, "u-", seed)  # another worker, same inputs
    k = one.rank(serial)
    assert 0 <= k < count
    assert two.rank(serial) == k


@given(st.integers(HEAD + 1, 100_000_000), st.floats(0, 10, allow_nan=False))
@settings(max_examples=40, deadline=None)
def test_extreme_draws_stay_in_range(count: int, skew: float) -> None:
    zipf = Zipf(count, skew)
    assert zipf.rank(0.0) == 0
    assert 0 <= zipf.rank(1 - 2**-53) < count  # the largest u a draw can produce


def test_skew_zero_is_uniform() -> None:
    # chi-square over 20 users and 40,000 draws with a fixed seed; the 99.9 % quantile
    # for 19 degrees of freedom is 43.8
    population = Population(20, 0.0, "u-", seed=5)
    counts = Counter(population.rank(serial) for serial in range(40_000))
    expected = 40_000 / 20
    chi2 = sum((counts[k] - expected) ** 2 / expected for k in range(20))
    assert chi2 < 43.8


def test_hot_user_share_matches_the_law() -> None:
    population = Population(1000, 1.2, "u-", seed=11)
    draws = 50_000
    hot = sum(1 for serial in range(draws) if population.rank(serial) == 0)
    share = hottest_user_share(1000, 1.2)
    sigma = math.sqrt(share * (1 - share) / draws)
    assert abs(hot / draws - share) < 4 * sigma


# (count, skew) — above HEAD the tail uses the continuous approximation
@pytest.mark.parametrize(("count", "skew"), [(200_000, 0.5), (200_000, 1.0), (150_000, 1.3)])
def test_large_populations_match_the_exact_law(count: int, skew: float) -> None:
    weights = [r**-skew for r in range(1, count + 1)]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    assert harmonic(count, skew) == pytest.approx(total, rel=1e-9)
    zipf = Zipf(count, skew)
    for u in (0.0, 0.1, 0.5, 0.9, 0.99, 0.999999):
        exact = bisect.bisect_right(cumulative, u * total)
        assert abs(zipf.rank(u) - exact) <= 1, u
    shares = expected_top_shares(count, skew, (1, 10, 100, HEAD + 1000))
    for k, share in shares.items():
        assert share == pytest.approx(cumulative[k - 1] / total, rel=1e-9)


@given(st.integers(2, 100_000_000), st.floats(0, 5), st.floats(0.01, 5))
@settings(max_examples=50, deadline=None)
def test_top_shares_grow_with_skew_and_k(count: int, skew: float, more: float) -> None:
    low = expected_top_shares(count, skew)
    high = expected_top_shares(count, skew + more)
    assert all(high[k] >= low[k] - 1e-12 for k in low)
    assert low[1] <= low[10] <= low[100] <= 1.0
    assert hottest_user_share(count, skew) == pytest.approx(low[1])


def test_uniform_shares_are_exact() -> None:
    assert expected_top_shares(1000, 0.0) == {1: 0.001, 10: 0.01, 100: 0.1}
    assert expected_top_shares(5, 1.0)[10] == 1.0  # more tops than users


def test_journey_bits_are_lazy_and_exact_for_huge_populations() -> None:
    journeys = Journeys(100_000_000)
    assert not journeys.identified(99_999_999)
    assert journeys.alias_or_identify(99_999_999) is False  # converted into the identify
    assert journeys.identified(99_999_999) and not journeys.identified(99_999_998)
    assert journeys.alias_or_identify(99_999_999) is True
    assert journeys.conversions == 1


def test_user_ids_anonymous_ids_and_alias_ids_are_distinct() -> None:
    population = Population(1000, 1.0, "p-", seed=2)
    anon = {population.anon_id(k) for k in range(1000)}
    users = {population.user_id(k) for k in range(1000)}
    aliases = {population.alias_id(k) for k in range(1000)}
    assert len(anon) == len(users) == len(aliases) == 1000
    assert not (anon & users) and not (users & aliases)


JOURNEY_PROFILE = """name = "journeys"
[load]
start_rate = 100
[[load.stages]]
duration = "60s"
target = 100
[users]
count = 300
skew = 1.1
[[scenarios]]
name = "track"
api = "{api}"
kind = "track"
weight = 60
[[scenarios]]
name = "identify"
api = "{api}"
kind = "identify"
weight = 10
[[scenarios]]
name = "alias"
api = "{api}"
kind = "alias"
weight = 30
"""


def journey_of(body: dict[str, object], path: str) -> tuple[str, str, str]:
    """(operation, user it is for, id it is sent with) for a PostHog or Segment request."""
    if path.startswith("/i/v0/"):
        event, did = str(body["event"]), str(body["distinct_id"])
        op = {"$identify": "identify", "$create_alias": "alias"}.get(event, "track")
        return op, did, did
    op = path.rsplit("/", 1)[1]
    who = body.get("previousId") if op == "alias" else body.get("userId")
    return op, str(who or body["anonymousId"]), str(body.get("userId") or body["anonymousId"])


@pytest.mark.parametrize("api", ["posthog", "segment"])
def test_alias_is_never_built_before_identify(tmp_path: Path, api: str) -> None:
    path = tmp_path / "journeys.toml"
    path.write_text(JOURNEY_PROFILE.format(api=api))
    scenarios = ScenarioSet(Plan.build(load_profile(path), BUILTIN_LOCAL), CREDENTIALS, seed=4)
    mix = ScenarioMix(scenarios.weights)
    identified: set[str] = set()
    anonymous_ids: dict[str, str] = {}  # user key -> the anonymous id its tracks used
    identifies_from_alias = 0
    for n in range(1, 3001):
        scenario = mix.pick(n)
        built = scenarios.build(scenario, n)
        body = orjson.loads(built.request.body)
        op, who, sent_as = journey_of(body, built.request.path)
        key = built.key or ""
        if op == "alias":
            assert who in identified, f"alias for {who} before its identify"
        elif op == "identify":
            identified.add(who)
            identifies_from_alias += scenarios.names[scenario] == "alias"
        elif key in identified:
            assert sent_as == key  # after identify, tracks carry the user id
        else:
            assert sent_as != key  # before it, the anonymous id, always the same one
            assert anonymous_ids.setdefault(key, sent_as) == sent_as
    assert identifies_from_alias == scenarios.alias_conversions > 0


def test_track_only_profiles_have_no_anonymous_stage(tmp_path: Path) -> None:
    path = tmp_path / "tracks.toml"
    path.write_text(JOURNEY_PROFILE.format(api="posthog").split('[[scenarios]]\nname = "id')[0])
    scenarios = ScenarioSet(Plan.build(load_profile(path), BUILTIN_LOCAL), CREDENTIALS, seed=4)
    for n in range(1, 50):
        built = scenarios.build(0, n)
        assert orjson.loads(built.request.body)["distinct_id"] == built.key
