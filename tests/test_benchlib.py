"""The benchmark scripts' pure helpers (benchlib, bench_accuracy, bench_generator): output
parsers, per-second windows, the rate search, the "sustained" verdict, /proc readings, and
the benchmark target/profile the guard must accept.

No benchmark runs here: nothing is started, nothing is timed.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_accuracy as acc  # the scripts directory is not a package
import bench_generator as gen
import benchlib as b

from loadgen.arrivals.plan import Plan, schedule_of
from loadgen.guard.lint import preflight
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import load_targets, resolve_target

WRK_OK = """Running 10s test @ http://127.0.0.1:8080/i/v0/e/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   880.10us  201.33us   9.91ms   91.50%
    Req/Sec    72.61k     3.01k   78.20k    70.00%
  722514 requests in 10.00s, 110.24MB read
Requests/sec:  72249.83
Transfer/sec:     11.02MB
"""
WRK_ERRORS = """  1 threads and 64 connections
  1200 requests in 500.00ms, 1.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 10
Requests/sec:   2400.00
"""
LOCUST_CSV = (
    '"Type","Name","Request Count","Failure Count","Median Response Time",'
    '"Average Response Time","Requests/s","Failures/s"\n'
    '"POST","/i/v0/e/","43210","3","20","21.5","2880.6","0.2"\n'
    '"","Aggregated","43210","3","20","21.5","2880.6","0.2"\n'
)


@pytest.mark.parametrize(
    ("text", "requests", "seconds", "rps", "errors"),
    [
        (WRK_OK, 722514, 10.0, 72249.83, 0),  # a clean run: no error lines at all
        (WRK_ERRORS, 1200, 0.5, 2400.0, 20),  # ms duration; socket errors + non-2xx add up
    ],
)
def test_parse_wrk(text: str, requests: int, seconds: float, rps: float, errors: int) -> None:
    result = b.parse_wrk(text)
    assert (result.requests, result.rps, result.errors) == (requests, rps, errors)
    assert result.seconds == pytest.approx(seconds)


def test_parse_wrk_rejects_output_without_a_summary() -> None:
    with pytest.raises(ValueError, match="not a wrk summary"):
        b.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_parse_locust_stats_reads_the_aggregated_row() -> None:
    assert gen.parse_locust_stats(LOCUST_CSV) == (43210, 3, 2880.6)
    with pytest.raises(ValueError, match="Aggregated"):
        gen.parse_locust_stats(LOCUST_CSV.rsplit("\n", 2)[0] + "\n")


def test_wrk_lua_sends_the_body_as_a_json_post() -> None:
    lua = b.wrk_lua(b.EVENT)
    assert 'wrk.method = "POST"' in lua
    assert b.EVENT.decode() in lua
    assert 300 <= len(b.EVENT) <= 330  # BENCHMARKS.md: a ~315-byte capture event


def test_parse_msec_log() -> None:
    assert acc.parse_msec_log("1700000000.123\n1700000000.124\n\n") == [
        1700000000.123,
        1700000000.124,
    ]
    assert acc.parse_msec_log("") == []


@pytest.mark.parametrize(
    ("times", "origin", "seconds", "expected"),
    [
        ([10.0, 10.5, 10.999, 11.0], 10.0, 2, [3, 1]),  # a window is [k, k + 1)
        ([9.999, 12.0], 10.0, 2, [0, 0]),  # before the origin and past the end: ignored
        # printed with 3 decimals, 1700000001.001 - origin is a hair under 1.001 in floats
        ([1700000001.000, 1700000001.001], 1700000000.0, 2, [0, 2]),
        ([], 0.0, 3, [0, 0, 0]),  # nothing seen: every second is zero, not missing
    ],
)
def test_per_second_counts(
    times: list[float], origin: float, seconds: int, expected: list[int]
) -> None:
    assert acc.per_second_counts(times, origin, seconds) == expected


@given(st.lists(st.integers(0, 5_000), max_size=200), st.integers(0, 1_000), st.integers(1, 6))
def test_per_second_counts_count_each_time_in_range_once(
    ms: list[int], origin_ms: int, seconds: int
) -> None:
    times = [1_700_000_000 + m / 1000 for m in ms]
    origin = 1_700_000_000 + origin_ms / 1000
    inside = sum(origin_ms <= m < origin_ms + seconds * 1000 for m in ms)
    assert sum(acc.per_second_counts(times, origin, seconds)) == inside


@pytest.mark.parametrize(
    ("planned", "observed", "within"),
    [
        (100, 102, True),  # ±2 requests beats 1 % of a small second
        (100, 103, False),
        (20_000, 20_200, True),  # exactly 1 % passes
        (20_000, 19_799, False),
        (0, 2, True),  # an empty planned second may see 2 stragglers
    ],
)
def test_second_check_tolerance(planned: int, observed: int, within: bool) -> None:
    assert acc.SecondCheck(0, planned, observed).within() is within


def test_worst_second_is_relative_to_the_allowance() -> None:
    checks = acc.compare_seconds([100, 10_000, 20_000], [102, 10_050, 19_900])
    # +2 of ±2 is 1.0 of its allowance; -100 of ±200 is 0.5; +50 of ±100 is 0.5
    assert acc.worst_second(checks) == checks[0]
    assert acc.worst_second([]) is None


def _search(capacity: float, start: float, steps: int) -> tuple[gen.RateSearch, list[float]]:
    search = gen.RateSearch(start, steps, ceiling=1_000_000, floor=100)
    tried: list[float] = []
    while search.rate is not None and len(tried) < 100:
        tried.append(search.rate)
        search.record(search.rate <= capacity)
    return search, tried


@pytest.mark.parametrize(
    ("capacity", "start", "steps", "tried", "best"),
    [
        # doubles until 20k fails, then bisects 15k (fail), 12.5k (pass)
        (14_000, 5_000, 2, [5_000, 10_000, 20_000, 15_000, 12_500], 12_500),
        # the start already fails: halve until one passes, then bisect
        (1_500, 5_000, 1, [5_000, 2_500, 1_250, 1_875], 1_250),
        # nothing passes down to the floor: no best
        (50, 400, 1, [400, 200, 100], None),
        # never fails: stops at the ceiling
        (10**9, 250_000, 2, [250_000, 500_000, 1_000_000], 1_000_000),
    ],
)
def test_rate_search(
    capacity: float, start: float, steps: int, tried: list[float], best: float | None
) -> None:
    search, seen = _search(capacity, start, steps)
    assert seen == tried
    assert search.best == best


@given(st.floats(100, 2_000_000), st.floats(100, 100_000), st.integers(0, 6))
def test_rate_search_brackets_the_capacity(capacity: float, start: float, steps: int) -> None:
    search, tried = _search(capacity, start, steps)
    assert len(tried) < 40
    if search.best is not None:
        assert search.best <= capacity
    if search.failed is not None:
        assert search.failed > capacity
        if search.best is not None:
            assert search.best < search.failed


def test_rate_search_refuses_a_verdict_after_it_ended() -> None:
    search, _ = _search(50, 400, 0)
    with pytest.raises(RuntimeError):
        search.record(True)


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "status": "completed",
        "duration_s": 10.0,
        "totals": {
            "planned": 100_000,
            "completed": 100_000,
            "dropped": 0,
            "errors": 0,
            "achieved_rps": 10_000.0,
            "planned_rps": 10_000.0,
        },
        "generator": {"cpu_percent": 50.0, "bottleneck": False, "lag_ms": {"p99": 1.0}},
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field == "p99":
            doc["generator"]["lag_ms"]["p99"] = value
        elif field:
            doc[section][field] = value
        else:
            doc[section] = value
    return doc


@pytest.mark.parametrize(
    ("changes", "ok", "reason"),
    [
        ({}, True, ""),  # the healthy run
        ({"totals__achieved_rps": 9_790.0}, False, "98 %"),  # 97.9 % of plan
        ({"totals__dropped": 101}, False, "dropped"),  # 0.101 % dropped
        ({"totals__dropped": 100}, True, ""),  # exactly 0.1 % passes
        ({"generator__p99": 10.5}, False, "lag"),
        ({"generator__p99": None}, True, ""),  # no lag recorded (nothing started) is no lag
        ({"generator__bottleneck": True}, False, "bottleneck"),
        ({"totals__errors": 1}, False, "transport errors"),
        ({"status": "aborted"}, False, "status"),
    ],
)
def test_sustained(changes: dict[str, Any], ok: bool, reason: str) -> None:
    verdict, reasons = b.sustained(_doc(**changes))
    assert verdict is ok
    assert reason in " ".join(reasons)


def test_cpu_us_per_request_uses_the_runs_own_cpu() -> None:
    # 50 % of a core for 10 s = 5 CPU s over 100,000 requests = 50 µs each
    assert b.cpu_us_per_request(_doc()) == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0.0, 10.0),  # the first point
        (0.5, 15.0),  # halfway between (0, 10) and (1, 20)
        (2.0, 20.0),  # two samples at the same value
        (-0.1, None),  # before the samples: unknown, not extrapolated
        (3.1, None),  # after them
    ],
)
def test_value_at(t: float, expected: float | None) -> None:
    points = [(0.0, 10.0), (1.0, 20.0), (3.0, 20.0)]
    assert acc.value_at(points, t) == expected


def test_per_second_rate_differences_a_cumulative_value() -> None:
    cpu = [(0.0, 0.0), (1.0, 0.5), (2.0, 1.5)]  # 50 %, then 100 % of a core
    assert acc.per_second_rate(cpu, 0.0, 3) == [0.5, 1.0, None]
    assert acc.per_second_rate(cpu, 0.5, 1) == [pytest.approx(0.75)]


def test_proc_parsers() -> None:
    status = "Name:\tpython\nVmPeak:\t  90000 kB\nVmRSS:\t   58012 kB\n"
    assert b.parse_status_kb(status) == 58012
    assert b.parse_status_kb("Name:\tzombie\n") is None
    # a process name with spaces and parentheses; utime 250, stime 30 (fields 14, 15)
    stat = "4242 (py (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 30 0 0 20 0 3 0"
    assert b.parse_stat_cpu_ticks(stat) == 280


def test_cpu_model() -> None:
    assert b.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert b.cpu_model("processor\t: 0\n") == "unknown"


def test_markdown_table_pads_columns() -> None:
    table = b.markdown_table(["tool", "req/s"], [["wrk", "70,600"], ["loadgen", "1"]])
    assert table.splitlines() == [
        "| tool    | req/s  |",
        "|---------|--------|",
        "| wrk     | 70,600 |",
        "| loadgen | 1      |",
    ]


def test_the_guard_accepts_the_benchmark_target_and_flat_profile(tmp_path: Path) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text(b.targets_toml("bench", "http://127.0.0.1:9", max_connections=64))
    profile = tmp_path / "flat.toml"
    profile.write_text(b.profile_toml("bench-flat", 40_000, [(10, 40_000)], 256))
    prof = load_profile(profile)
    target = resolve_target("bench", load_targets(targets), targets)
    verdict = preflight(Plan.build(prof, target), now=datetime(2026, 12, 1, 10, tzinfo=UTC))
    assert not verdict.refused, verdict.refusal_message()
    assert schedule_of(prof).total_requests == 400_000
    assert target.max_connections == 64


def test_ramp_profile_plans_the_expected_seconds(tmp_path: Path) -> None:
    profile = tmp_path / "ramp.toml"
    profile.write_text(b.profile_toml("bench-ramp", 0, [(20, 20_000), (10, 20_000)], 256))
    schedule = schedule_of(load_profile(profile))
    planned = [schedule.count_by(k + 1) - schedule.count_by(k) for k in range(30)]
    assert planned[0] == 500  # area under 1000 t over [0, 1)
    assert planned[19] == 19_500
    assert planned[20:] == [20_000] * 10
    assert sum(planned) == schedule.total_requests == 400_000
    assert math.isclose(next(schedule.offsets())[1], math.sqrt(1 / 500))


PROC_STAT = """cpu  300 0 100 600 0 0 0 0 0 0
cpu0 100 0 50 300 0 0 0 0 0 0
cpu1 200 0 50 300 0 0 0 0 0 0
intr 12345
"""


def test_core_busy_from_two_proc_stat_readings() -> None:
    before = b.parse_proc_stat(PROC_STAT)
    assert before == {0: (150, 450), 1: (250, 550)}  # the "cpu" total line is not a core
    # core 0: +90 busy (user 60, system 30), +10 idle; core 1: +10 iowait only
    after = {0: (240, 550), 1: (250, 560)}
    assert b.core_busy(before, after) == {0: pytest.approx(0.9), 1: 0.0}
    assert b.core_busy(before, before) == {0: 0.0, 1: 0.0}  # no tick passed: not a division
    assert b.format_cores({1: 0.5, 0: 0.994}) == "core 0 99 %, core 1 50 %"
