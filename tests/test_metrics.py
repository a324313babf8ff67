"""RunMetrics and the HDR helpers: exact counts, percentiles and series; bulk recording
identical to hdrh's own record_value; conservation of counts; flat memory."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.metrics import ERROR_KINDS, RunMetrics, hdr, status_class

VALUES = st.lists(st.integers(min_value=0, max_value=hdr.HIGHEST_US), min_size=1, max_size=300)


def reference(values: list[int]) -> HdrHistogram:
    h = hdr.new_histogram()
    for v in values:
        assert h.record_value(v)
    return h


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "2xx"),  # the common success
        (204, "2xx"),  # PostHog/Segment style empty success
        (301, "3xx"),  # redirects are not followed, so they are counted
        (400, "4xx"),  # a payload the API rejects
        (428, "4xx"),  # the neighbour of 429 stays a plain 4xx
        (429, "429"),  # rate limiting is its own class
        (430, "4xx"),  # the other neighbour
        (503, "5xx"),  # overload
        (599, "5xx"),  # last 5xx
        (100, "other"),  # an informational status should never be final
        (600, "other"),  # outside HTTP's range
        (0, "other"),  # a broken server
    ],
)
def test_status_classes(status: int, expected: str) -> None:
    assert status_class(status) == expected


@settings(max_examples=60, deadline=None)
@given(VALUES)
def test_bulk_recording_is_identical_to_record_value(values: list[int]) -> None:
    fast, also = hdr.new_histogram(), hdr.new_histogram()
    assert hdr.record_counts(Counter(values), fast, also) == 0
    slow = reference(values)
    for h in (fast, also):  # one pass feeds several histograms identically
        assert h.total_count == slow.total_count
        assert (h.min_value, h.max_value) == (slow.min_value, slow.max_value)
        assert list(h.counts) == list(slow.counts)
        assert hdr.encode(h) == slow.encode().decode()


@settings(max_examples=25, deadline=None)  # hdrh's own percentile and mean are slow
@given(VALUES, st.lists(st.floats(min_value=0.001, max_value=100.0), min_size=1, max_size=3))
def test_percentiles_and_stats_match_hdrh(values: list[int], ps: list[float]) -> None:
    h = reference(values)
    assert hdr.percentiles_us(h, ps) == [h.get_value_at_percentile(p) for p in ps]
    stats = hdr.stats_ms(h)
    assert stats["min"] == h.get_min_value() / 1000
    assert stats["max"] == h.get_max_value() / 1000
    assert stats["mean"] == pytest.approx(h.get_mean_value() / 1000, abs=1e-6)  # ns rounding


@settings(max_examples=40, deadline=None)
@given(VALUES, VALUES)
def test_decode_and_add_are_lossless(a: list[int], b: list[int]) -> None:
    merged = hdr.new_histogram()
    for part in (a, b):
        hdr.add_into(merged, hdr.decode(hdr.encode(reference(part))))
    whole = reference(a + b)
    assert hdr.stats_ms(merged) == hdr.stats_ms(whole)
    assert hdr.encode(merged) == hdr.encode(whole)


def test_empty_histogram_has_no_stats() -> None:
    h = hdr.new_histogram()
    assert hdr.stats_ms(h) == dict.fromkeys(hdr.STAT_KEYS)
    assert hdr.percentiles_us(h, [50.0]) == [None]


def test_values_out_of_range_are_clamped_and_counted_never_raised() -> None:
    h = hdr.new_histogram()
    moved = hdr.record_counts({5 * hdr.HIGHEST_US: 2, -3: 1, 10: 1}, h)
    assert moved == 3
    assert h.total_count == 4
    assert h.get_count_at_value(hdr.HIGHEST_US) == 2
    assert h.get_count_at_value(0) == 1
    m = RunMetrics(["a"])
    m.record_started(0, 0.0)
    m.record_response(0, 0.5, 10**13, 10**13, 200, None)  # 115 days: a broken clock
    m.record_lag(-5)  # a clock that went backwards
    assert m.measurements().clamped == 3


def test_known_values_give_exact_counts_percentiles_and_series() -> None:
    m = RunMetrics(["track", "identify"])
    m.mark_start(datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC))
    for i in range(100):  # second 0: 100 arrivals on "track", latencies 0.01..1 ms (exact
        m.record_planned(i / 100, 0)  # in HDR: below 2048 µs every microsecond has its bucket)
        m.record_lag(0)
        m.record_started(0, i / 100)
        m.record_response(0, 0.999, (i + 1) * 10, 5, 200 if i < 90 else 503, None)
    for i in range(10):  # second 1: 10 arrivals, 5 dropped, 2 errors, 2 x 200, 1 x 429
        m.record_planned(1 + i / 10, 1)
        if i < 5:
            m.record_dropped(1, 1 + i / 10)
            continue
        m.record_started(1, 1 + i / 10)
        if i < 7:
            m.record_error(1, 1.95, 2000, 2000, "refused")
        else:
            m.record_response(1, 1.99, 1500, 1000, 429 if i == 9 else 200, 1.5 if i == 9 else None)
    snap = m.snapshot(now_s=2.5)
    assert (snap.planned, snap.started, snap.completed, snap.dropped) == (110, 105, 103, 5)
    assert snap.in_flight == 0
    assert snap.transport_errors == 2 and snap.errors["refused"] == 2
    assert dict(snap.status) == {"2xx": 92, "3xx": 0, "4xx": 0, "429": 1, "5xx": 10, "other": 0}
    assert snap.achieved_rps == 5.0  # second 1 is the last full second before 2.5
    meas = m.measurements()
    track = hdr.stats_ms(meas.scenarios[0].latency)
    assert (track["min"], track["p50"], track["p90"], track["max"]) == (0.01, 0.5, 0.9, 1.0)
    assert track["p99"] == 0.99 and track["mean"] == 0.505
    assert meas.scenarios[1].outcomes.tally().errors_by_kind["refused"] == 2
    assert meas.retry_after_count == 1 and meas.retry_after_max_s == 1.5
    status_0 = {"2xx": 90, "3xx": 0, "4xx": 0, "429": 0, "5xx": 10, "other": 0, "transport": 0}
    status_1 = {"2xx": 2, "3xx": 0, "4xx": 0, "429": 1, "5xx": 0, "other": 0, "transport": 2}
    nothing = dict.fromkeys(status_0, 0)
    no_service = {"service_p50_ms": None, "service_p95_ms": None, "service_p99_ms": None}
    no_latency = {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    row_0 = {
        "t": 0,
        "time": "2026-01-02T03:04:05.500Z",
        "planned": 100,
        "started": 100,
        "completed": 100,
        "dropped": 0,
        "status_429": 0,
        "errors": 0,
        "status": status_0,
        "in_flight": 0,
        "p50_ms": 0.5,
        "p95_ms": 0.95,
        "p99_ms": 0.99,
        "service_p50_ms": 0.005,
        "service_p95_ms": 0.005,
        "service_p99_ms": 0.005,
    }
    row_1 = {
        "t": 1,
        "time": "2026-01-02T03:04:06.500Z",
        "planned": 10,
        "started": 5,
        "completed": 3,
        "dropped": 5,
        "status_429": 1,
        "errors": 2,
        "status": status_1,
        "in_flight": 0,
        "p50_ms": 1.5,
        "p95_ms": 2.0,
        "p99_ms": 2.0,
        "service_p50_ms": 1.0,
        "service_p95_ms": 2.0,
        "service_p99_ms": 2.0,
    }
    assert meas.series == [row_0, row_1]  # fmt: skip
    # one scenario per second here, so each scenario's rows are the run's or empty ones
    empty_1 = {
        **row_1,
        "planned": 0,
        "started": 0,
        "completed": 0,
        "dropped": 0,
        "status_429": 0,
        "errors": 0,
        "status": nothing,
        **no_latency,
        **no_service,
    }
    empty_0 = {
        **row_0,
        "planned": 0,
        "started": 0,
        "completed": 0,
        "status": nothing,
        **no_latency,
        **no_service,
    }
    expected = {"track": [row_0, empty_1], "identify": [empty_0, row_1]}
    assert meas.scenario_series == expected


def test_in_flight_is_what_was_sent_and_not_finished_at_the_end_of_each_second() -> None:
    m = RunMetrics(["a", "b"])
    m.record_started(0, 0.1)  # finishes in second 2
    m.record_started(1, 0.2)  # never finishes (the run was stopped)
    m.record_started(0, 1.5)
    m.record_response(0, 1.6, 100_000, 100_000, 200, None)
    m.record_response(0, 2.3, 2_200_000, 2_200_000, 200, None)
    meas = m.measurements()
    assert [r["in_flight"] for r in meas.series] == [2, 2, 1]
    assert [r["in_flight"] for r in meas.scenario_series["a"]] == [1, 1, 0]
    assert [r["in_flight"] for r in meas.scenario_series["b"]] == [1, 1, 1]


def test_retries_are_counted_apart_and_unknown_error_kinds_become_other() -> None:
    m = RunMetrics(["a"])
    for attempt, status in enumerate((429, 503, 200)):
        m.record_started(0, attempt)
        m.record_response(0, attempt + 0.1, 1000, 1000, status, None, attempt)
    m.record_started(0, 3.0)
    m.record_error(0, 3.1, 1000, 1000, "gremlins", attempt=1)
    outcomes = m.measurements().scenarios[0].outcomes
    first, retry = outcomes.tally(retry=False), outcomes.tally(retry=True)
    assert first.status["429"] == 1 and first.completed == 1 and first.errors == 0
    assert retry.status == {"2xx": 1, "3xx": 0, "4xx": 0, "429": 0, "5xx": 1, "other": 0}
    assert retry.errors_by_kind["other"] == 1
    assert outcomes.retries() == 3
    assert outcomes.status_codes() == {"200": 1, "429": 1, "503": 1}


def test_a_late_value_reopens_its_closed_second() -> None:
    m = RunMetrics(["a"])
    m.record_response(0, 0.5, 1000, 1000, 200, None)
    m.record_response(0, 1.5, 1900, 1900, 200, None)  # closes second 0
    m.record_response(0, 0.9, 2000, 2000, 200, None)  # arrives late for second 0
    rows = m.measurements().series
    assert rows[0]["completed"] == 2 and rows[0]["p99_ms"] == 2.0 and rows[0]["p50_ms"] == 1.0
    assert rows[1]["completed"] == 1 and rows[1]["p50_ms"] == 1.9


def test_constructor_rejects_bad_scenarios() -> None:
    with pytest.raises(ValueError, match="unique"):
        RunMetrics(["a", "a"])
    with pytest.raises(ValueError, match="unique"):
        RunMetrics([])
    with pytest.raises(ValueError, match="flush_at"):
        RunMetrics(["a"], flush_at=0)


@dataclass(frozen=True)
class Arrival:
    scenario: int
    planned_ms: int
    outcome: str  # "dropped", "unfinished", "error" or an HTTP status as text
    latency_us: int
    retries: int


ARRIVALS = st.lists(
    st.builds(
        Arrival,
        scenario=st.integers(0, 2),
        planned_ms=st.integers(0, 4000),
        outcome=st.sampled_from(["dropped", "unfinished", "error", "200", "429", "503"]),
        latency_us=st.integers(0, 3_000_000),
        retries=st.integers(0, 2),
    ),
    max_size=120,
)


def play(m: RunMetrics, arrivals: list[Arrival]) -> None:
    """Feed arrivals the way the engine does (planned, then dropped or lag/started/finished)."""
    for a in arrivals:
        t = a.planned_ms / 1000
        m.record_planned(t, a.scenario)
        if a.outcome == "dropped":
            m.record_dropped(a.scenario, t)
            continue
        m.record_lag(a.latency_us // 1000)
        for attempt in range(a.retries + 1):
            m.record_started(a.scenario, t + attempt)
            if a.outcome == "unfinished" and attempt == a.retries:
                break
            done = t + attempt + a.latency_us / 1e6
            if a.outcome == "unfinished":  # earlier attempts of an unfinished arrival got 503s
                m.record_response(a.scenario, done, a.latency_us, 10, 503, 1.0, attempt)
            elif a.outcome == "error":
                kind = ERROR_KINDS[a.latency_us % len(ERROR_KINDS)]
                m.record_error(a.scenario, done, a.latency_us, a.latency_us, kind, attempt)
            else:
                status = int(a.outcome)
                m.record_response(a.scenario, done, a.latency_us, 10, status, None, attempt)


@settings(max_examples=60, deadline=None)
@given(ARRIVALS, st.sampled_from([1, 7, 4096]))
def test_counts_are_conserved(arrivals: list[Arrival], flush_at: int) -> None:
    m = RunMetrics(["a", "b", "c"], flush_at=flush_at)
    play(m, arrivals)
    snap = m.snapshot()
    assert snap.started == snap.completed + snap.transport_errors + snap.in_flight
    assert snap.in_flight == sum(a.outcome == "unfinished" for a in arrivals)
    first_starts = sum(a.outcome != "dropped" for a in arrivals)
    assert snap.planned == len(arrivals) == first_starts + snap.dropped
    assert snap.retries == sum(
        max(a.retries - (a.outcome == "unfinished"), 0) for a in arrivals if a.outcome != "dropped"
    )
    meas = m.measurements()
    for field, total in (
        ("planned", snap.planned),
        ("started", snap.started),
        ("completed", snap.completed),
        ("dropped", snap.dropped),
        ("errors", snap.transport_errors),
        ("status_429", snap.status["429"]),
    ):
        assert sum(int(row[field] or 0) for row in meas.series) == total, field
    finished = snap.completed + snap.transport_errors
    assert sum(s.latency.total_count for s in meas.scenarios) == finished
    assert len(meas.series_histograms) == sum(
        1 for row in meas.series if row["completed"] or row["errors"]
    )
    last_in_flight = meas.series[-1]["in_flight"] if meas.series else 0
    assert last_in_flight == snap.in_flight
    for row in meas.series:  # the status split adds up to the second's finished attempts
        split = row["status"]
        assert sum(split.values()) - split["transport"] == row["completed"]
        assert (split["429"], split["transport"]) == (row["status_429"], row["errors"])
    # the scenarios' rows add up to the run's, second by second, field by field
    for i, row in enumerate(meas.series):
        own = [rows[i] for rows in meas.scenario_series.values()]
        for field in ("planned", "started", "completed", "dropped", "errors", "in_flight"):
            assert sum(r[field] for r in own) == row[field], field
        for name in row["status"]:
            assert sum(r["status"][name] for r in own) == row["status"][name], name


def test_memory_stays_flat_over_a_million_values() -> None:
    m = RunMetrics(["a", "b"], flush_at=2048)
    per_second = 1000
    peak_buffered = 0
    for i in range(1_000_000):
        t = i / per_second
        m.record_response(i & 1, t, 1000 + (i % 5000), 800, 200, None)
        m.record_lag(i % 300)
        if i % 10_000 == 0:
            peak_buffered = max(peak_buffered, m.buffered())
    assert peak_buffered <= 2 * 2048  # one bounded buffer per scenario plus the lag buffer
    m.flush()
    assert m.series_seconds() == 1_000_000 // per_second
    meas = m.measurements()
    assert len(meas.series) == len(meas.series_histograms) == 1000
    assert sum(s.latency.total_count for s in meas.scenarios) == 1_000_000
    assert m.buffered() == 0


OLD_ROW_FIELDS = (
    "t",
    "planned",
    "started",
    "completed",
    "dropped",
    "status_429",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
)


def test_artifacts_from_before_the_extended_series_still_validate_and_merge() -> None:
    from loadgen.results import artifact as results
    from loadgen.results.merge import merge_artifacts
    from tests.test_results import build

    m = RunMetrics(["a"])
    play(m, [Arrival(0, 100 * i, "200", 1500, 0) for i in range(30)])
    old = build(m)
    for key in ("scenario_series", "series_service_histograms", "scenario_series_histograms"):
        del old[key]
    old["series"] = [{k: row[k] for k in OLD_ROW_FIELDS} for row in old["series"]]
    results.validate_artifact(old)  # the new fields are optional for reading
    merged = merge_artifacts([old, copy.deepcopy(old)])
    results.validate_artifact(merged)
    first = merged["series"][0]
    assert first["started"] == 2 * old["series"][0]["started"]
    # older rows have no split: their responses count as "other"; times from started_at
    assert first["status"]["other"] == first["completed"] and first["time"].endswith("Z")
    assert first["service_p50_ms"] is None and first["in_flight"] == 0


@settings(max_examples=30, deadline=None)
@given(ARRIVALS, st.sampled_from([1, 7, 4096]))
def test_latency_and_service_sums_are_exact(arrivals: list[Arrival], flush_at: int) -> None:
    m = RunMetrics(["a", "b", "c"], flush_at=flush_at)
    play(m, arrivals)
    m.flush()
    for i, measured in enumerate(m.scenario_measurements()):
        finished = [a for a in arrivals if a.scenario == i and a.outcome != "dropped"]
        attempts = [a.retries + (a.outcome != "unfinished") for a in finished]
        assert measured.latency_sum_us == sum(
            a.latency_us * n for a, n in zip(finished, attempts, strict=True)
        )
        assert measured.latency.total_count == sum(attempts)


@settings(max_examples=40, deadline=None)
@given(ARRIVALS, st.sampled_from([1, 7, 4096]))
def test_live_rows_are_the_artifacts_rows_once_a_second_is_over(
    arrivals: list[Arrival], flush_at: int
) -> None:
    m = RunMetrics(["a", "b", "c"], flush_at=flush_at)
    play(m, arrivals)
    m.flush()
    live: list[dict[str, object]] = []
    in_flight = [0, 0, 0, 0]
    for sec in range(12):  # second by second, as the stream does (arrivals end before t = 10)
        live.extend(m.live_rows(sec, in_flight))
    meas = m.measurements()
    expected = []
    for i, row in enumerate(meas.series):
        expected.append({"scenario": "all", **row})
        expected.extend({"scenario": n, **rows[i]} for n, rows in meas.scenario_series.items())
    assert live[: len(expected)] == expected
    assert all(r["started"] == 0 for r in live[len(expected) :])  # nothing after the end
