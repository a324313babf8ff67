"""`loadgen compare`: comparing a run with itself never fails, a shifted histogram fails a
tight limit, and the CLI gates (exit 99), refuses different profiles and speaks JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import UsageError
from loadgen.report.compare import (
    ALL,
    ProfilesDiffer,
    check_same_profile,
    compare_rows,
    measure,
    regressed,
    unmatched_scenarios,
    within,
)
from loadgen.report.limits import parse_limit, parse_limits
from loadgen.report.stats import parse_stat
from loadgen.results.artifact import write_artifact
from tests.run_support import cli, profile, read_checked, scenario, write_profile
from tests.test_report_summary import synthesized

latencies = st.lists(st.integers(min_value=100, max_value=2_000_000), min_size=1, max_size=80)
statuses = st.sampled_from([200, 200, 200, 429, 500, 404])
trend_limits = st.builds(
    lambda trend, stat, amount, unit: f"{trend}{stat}=+{amount}{unit}",
    st.sampled_from(["", "service_time.", "http_req_duration."]),
    st.sampled_from(["p(50)", "p(95)", "p(99.9)", "avg", "med", "min", "max"]),
    st.integers(min_value=0, max_value=50),
    st.sampled_from(["%", "ms", "s"]),
)
other_limits = st.builds(
    lambda metric, amount: f"{metric}={amount}",
    st.sampled_from(["http_429", "errors", "http_req_failed", "dropped"]),
    st.sampled_from(["0pp", "+0.5pp"]),
) | st.sampled_from(["achieved_rps=-0%", "http_reqs=0/s", "requests=-1%"])


@st.composite
def runs(draw: st.DrawFn) -> dict[str, Any]:
    """An artifact of one or two scenarios with any latencies and statuses."""
    names = draw(st.sampled_from([["track"], ["identify", "track"]]))
    lats = {name: draw(latencies) for name in names}
    codes = {name: [draw(statuses) for _ in lats[name]] for name in names}
    return synthesized(lats, codes)


@settings(max_examples=40, deadline=None)
@given(runs(), st.lists(trend_limits | other_limits, max_size=6), st.booleans())
def test_a_run_compared_with_itself_never_fails(
    doc: dict[str, Any], texts: list[str], tagged: bool
) -> None:
    if tagged:  # the same limits on the first scenario as well
        first = sorted(doc["scenarios"])[0]
        texts += [t.replace("=", f"{{scenario:{first}}}=", 1) for t in texts]
    rows = compare_rows(doc, doc, parse_limits(texts))
    assert regressed(rows) == []
    assert all(row.change in (0, None) for row in rows)


@settings(max_examples=40, deadline=None)
@given(latencies, st.sampled_from(["p(50)", "p(90)", "p(99)", "p(99.99)", "avg", "max", "min"]))
def test_a_slower_run_fails_a_tight_limit(values: list[int], stat: str) -> None:
    baseline = synthesized({"track": values})
    slower = synthesized({"track": [v * 5 // 4 for v in values]})  # 25 % slower, every request
    limits = parse_limits([f"{stat}=10%", f"{stat}{{scenario:track}}=10%"])
    failed = regressed(compare_rows(baseline, slower, limits))
    assert [(row.scope, row.limit.text if row.limit else "") for row in failed] == [
        (ALL, f"{stat}=10%"),
        ("track", f"{stat}{{scenario:track}}=10%"),
    ]
    assert regressed(compare_rows(slower, baseline, limits)) == []  # faster is no regression


@settings(max_examples=20, deadline=None)
@given(latencies)
def test_an_absolute_shift_fails_an_absolute_limit_below_it(values: list[int]) -> None:
    baseline = synthesized({"track": values})
    shifted = synthesized({"track": [v + 50_000 for v in values]})  # 50 ms later, each
    assert regressed(compare_rows(baseline, shifted, parse_limits(["p(95)=+40ms"])))
    assert not regressed(compare_rows(baseline, shifted, parse_limits(["p(95)=+60ms"])))


# (limit, baseline, new, within) in the limit's own unit
WITHIN = [
    # exactly at the limit passes: a limit is the most that is allowed
    ("p(95)=10%", 100.0, 110.0, True),
    # just above fails
    ("p(95)=10%", 100.0, 110.5, False),
    # absolute ms
    ("p(99)=+20ms", 100.0, 121.0, False),
    # faster is never a regression
    ("p(99)=+0ms", 100.0, 50.0, True),
    # from a zero baseline any rise is an infinite relative change
    ("max=50%", 0.0, 0.001, False),
    # a share in percentage points
    ("http_429=+0.5pp", 1.0, 1.4, True),
    ("http_429=+0.5pp", 1.0, 1.6, False),
    # the achieved rate fails when it falls by more
    ("achieved_rps=-2%", 100.0, 97.0, False),
    # and a higher rate is fine
    ("achieved_rps=-2%", 100.0, 150.0, True),
    ("achieved_rps=5/s", 100.0, 96.0, True),
    # nothing measured on one side cannot be trusted
    ("p(95)=10%", 100.0, None, False),
    ("p(95)=10%", None, 100.0, False),
    # nothing on both sides: nothing changed
    ("p(95)=10%", None, None, True),
]


@pytest.mark.parametrize(("text", "baseline", "new", "expected"), WITHIN)
def test_within(text: str, baseline: float | None, new: float | None, expected: bool) -> None:
    assert within(parse_limit(text), baseline, new) is expected


def test_shares_are_of_finished_attempts() -> None:
    # 10 responses: 7 x 200, 2 x 429, 1 x 500
    doc = synthesized({"track": [1_000] * 10}, {"track": [200] * 7 + [429] * 2 + [500]})
    assert measure(doc, "http_429", None, ALL) == pytest.approx(20.0)
    assert measure(doc, "failed", None, "track") == pytest.approx(30.0)
    assert measure(doc, "errors", None, ALL) == 0.0
    assert measure(doc, "dropped", None, ALL) == 0.0


def test_percentiles_come_from_the_histograms() -> None:
    doc = synthesized({"track": list(range(1_000, 101_000, 100))})  # 1 to 101 ms, 1,000 values
    p9999 = measure(doc, "latency", parse_stat("p(99.99)"), ALL)  # not in the artifact's stats
    assert p9999 == pytest.approx(100.9, rel=2e-3)


def test_a_limit_on_an_unknown_scenario_names_the_known_ones() -> None:
    doc = synthesized({"track": [1_000], "identify": [1_000]})
    with pytest.raises(UsageError, match="the scenarios are identify, track"):
        compare_rows(doc, doc, parse_limits(["p(95){scenario:alias}=10%"]))


def test_runs_of_different_profiles_are_refused_unless_allowed() -> None:
    base = synthesized({"track": [1_000]}, profile_name="a")
    other = synthesized({"track": [1_000]}, profile_name="b", profile_hash="sha256:1")
    assert check_same_profile(base, base, allow=False) is None
    with pytest.raises(ProfilesDiffer, match="profile name 'a' vs 'b'; profile hash"):
        check_same_profile(base, other, allow=False)
    warning = check_same_profile(base, other, allow=True)
    assert warning is not None and "different profiles" in warning


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real 2-second runs of one profile against the embedded mock."""
    directory = tmp_path_factory.mktemp("compare")
    scenarios = [scenario("track"), scenario("signup", kind="identify")]
    path = write_profile(directory, profile("gate", stages=[("2s", 10)], scenarios=scenarios))
    outs = directory / "base.json", directory / "new.json"
    for out in outs:
        result = cli("run", path, "--out", out, "--quiet")
        assert result.returncode == 0, result.explain()
        read_checked(out)
    return outs


def test_cli_compares_two_real_runs(two_runs: tuple[Path, Path]) -> None:
    base, new = two_runs
    result = cli(
        "compare", base, new, "-m", "p(95)=+5000ms", "-m", "http_429{scenario:signup}=+1pp"
    )
    assert result.returncode == 0, result.explain()
    for words in ("metric", "baseline", "change", "limit", "latency p(95)", "signup", "track"):
        assert words in result.stdout
    assert "compare: ✓ all 2 limits held" in result.stdout


def test_cli_a_run_against_itself_holds_a_zero_limit(two_runs: tuple[Path, Path]) -> None:
    base, _ = two_runs
    result = cli("compare", base, base, "-m", "p(99)=0%", "-m", "achieved_rps=-0%", "--json")
    assert result.returncode == 0, result.explain()
    doc = json.loads(result.stdout)
    assert doc["passed"] is True
    limited = [row for row in doc["rows"] if row["limit"]]
    assert [(r["scope"], r["metric"], r["change"]) for r in limited] == [
        ("all", "latency p(99)", 0.0),
        ("all", "achieved_rps", 0.0),
    ]


def write(doc: dict[str, Any], path: Path) -> Path:
    return write_artifact(path, doc)


def test_cli_exits_99_on_a_regression(tmp_path: Path) -> None:
    base = write(synthesized({"track": [10_000] * 50}), tmp_path / "base.json")
    slow = write(synthesized({"track": [20_000] * 50}), tmp_path / "slow.json")
    result = cli("compare", base, slow, "-m", "p(95)=10%", "-m", "http_429=+1pp")
    assert result.returncode == 99, result.explain()
    assert "✗ 1 of 2 limits exceeded: p(95)=10%" in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if "+10%" in line]
    assert "+100.0%" in row and "✗" in row
    as_json = cli("compare", base, slow, "-m", "p(95)=10%", "--json")
    assert as_json.returncode == 99
    assert json.loads(as_json.stdout)["passed"] is False


def test_cli_refuses_different_profiles(tmp_path: Path) -> None:
    base = write(synthesized({"track": [1_000]}, profile_name="a"), tmp_path / "a.json")
    other = write(synthesized({"track": [1_000]}, profile_name="b"), tmp_path / "b.json")
    result = cli("compare", base, other)
    assert result.returncode == 3, result.explain()
    assert "different profiles (profile name 'a' vs 'b')" in result.stderr
    assert "--allow-different-profile" in result.stderr
    allowed = cli("compare", base, other, "--allow-different-profile")
    assert allowed.returncode == 0, allowed.explain()
    assert "WARNING: comparing runs of different profiles" in allowed.stdout


def test_scenarios_only_one_run_has_are_named() -> None:
    base = synthesized({"track": [1_000], "identify": [1_000]})
    new = synthesized({"track": [1_000], "alias": [1_000]})
    assert unmatched_scenarios(base, new) == [
        "WARNING: scenario 'identify' is only in the BASELINE run: not compared",
        "WARNING: scenario 'alias' is only in the NEW run: not compared",
    ]
    assert {row.scope for row in compare_rows(base, new, ())} == {ALL, "track"}


# (arguments after the two artifacts, exit code, words on stderr)
CLI_ERRORS = [
    # a bad limit is a usage error naming it, with the fix
    (["-m", "p95=10%"], 2, "--max-regression 'p95=10%': unknown metric 'p95'; did you mean p(95)?"),
    # a share limit in relative %
    (["-m", "errors=1%"], 2, "percentage points"),
    # an artifact that is not there is an input error naming the file
    (["--json"], 3, "missing.json: cannot read results"),
]


@pytest.mark.parametrize(("args", "code", "words"), CLI_ERRORS)
def test_cli_errors(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    base = write(synthesized({"track": [1_000]}), tmp_path / "base.json")
    new = tmp_path / "missing.json" if code == 3 else base
    result = cli("compare", base, new, *args)
    assert result.returncode == code, result.explain()
    assert words in result.stderr
    assert "Traceback" not in result.stderr
