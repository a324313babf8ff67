"""What thresholds observe (loadgen/thresholds/): values from artifacts built from known
arrivals, windows, no data, and the verdict's exit code. Tables with a comment per row and
properties over random runs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadgen.errors import ExitCode
from loadgen.inputs.threshold_syntax import parse_threshold
from loadgen.metrics import RunMetrics
from loadgen.results.status import exit_code_of
from loadgen.thresholds.evaluate import evaluate, failed_abort, observe, specs_of
from loadgen.thresholds.observations import Observations
from tests.test_metrics import ARRIVALS, Arrival, play
from tests.test_results import NAMES, build

# scenario a (0): two 200s of 10 ms and 30 ms, one 429 of 5 ms; b (1): one transport error
# after 2 s and one dropped arrival; c (2): nothing. 6 planned, 4 sent, 4 attempts finished.
ARRIVALS_KNOWN = [
    Arrival(0, 100, "200", 10_000, 0),
    Arrival(0, 1100, "200", 30_000, 0),
    Arrival(0, 2100, "429", 5_000, 0),
    Arrival(1, 2200, "error", 2_000_000, 0),
    Arrival(1, 3100, "dropped", 0, 0),
    Arrival(2, 3500, "dropped", 0, 0),
]


def artifact(arrivals: list[Arrival] = ARRIVALS_KNOWN) -> dict[str, Any]:
    m = RunMetrics(NAMES)
    play(m, arrivals)
    return build(m)


def value(key: str, expression: str, doc: dict[str, Any] | None = None) -> float | None:
    spec = parse_threshold(key, expression)
    return observe(spec, Observations.of_artifact(doc or artifact()))[0]


@pytest.mark.parametrize(
    ("key", "expression", "expected"),
    [
        ("latency", "max<1", 30.0),  # responses only: the 2 s transport error is no answer
        ("latency", "min<1", 5.0),
        ("latency{scenario:a}", "med<1", 10.0),
        ("latency{scenario:b}", "p(95)<1", None),  # b got no response at all: no data
        ("http_req_failed", "rate<1", 2 / 4),  # the 429 and the transport error, of 4
        ("http_req_failed", "count<1", 2.0),
        ("http_429", "rate<1", 1 / 4),
        ("http_429{scenario:a}", "rate<1", 1 / 3),  # of a's own attempts
        ("errors", "count<1", 1.0),
        ("dropped", "count<1", 2.0),
        ("dropped", "rate<1", 2 / 6),  # of planned arrivals
        ("dropped{scenario:b}", "rate<1", 1 / 2),  # b: one sent, one dropped
        ("http_reqs", "count<1", 4.0),  # attempts made
        ("http_reqs", "rate<1", 4 / 10),  # per second of the 10 s run
        ("achieved_rate", "ratio<1", 4 / 6),  # sent / planned
        ("latency{scenario:c}", "avg<1", None),  # c sent nothing
    ],
)
def test_the_observed_value(key: str, expression: str, expected: float | None) -> None:
    got = value(key, expression)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-3)  # HDR: 3 significant digits


@pytest.mark.parametrize(
    ("expression", "passed"),
    [
        ("p(99)<31", True),  # the 30 ms response is the slowest answer
        ("p(99)<29", False),
        ("max<=30.1", True),
        ("min>4", True),
        ("avg!=0", True),
    ],
)
def test_comparisons(expression: str, passed: bool) -> None:
    spec = parse_threshold("latency", expression)
    assert observe(spec, Observations.of_artifact(artifact()))[1] is passed


def test_no_data_never_passes() -> None:
    spec = parse_threshold("latency{scenario:c}", "p(95)<100000")
    assert observe(spec, Observations.of_artifact(artifact())) == (None, False)


def answers_only() -> dict[str, Any]:
    """Seconds 0, 1, 2 hold one answer each: 10, 30 and 5 ms (the last a 429)."""
    return artifact(ARRIVALS_KNOWN[:3])


def test_a_window_must_hold_in_every_window_and_reports_the_worst() -> None:
    obs = Observations.of_artifact(answers_only())
    # 2 s windows 0-1 and 1-2 both hold the 30 ms answer; 25 ms fails both, 31 ms neither
    observed, passed = observe(parse_threshold("latency", "max<25 over 2s"), obs)
    assert observed == pytest.approx(30.0, rel=1e-3) and not passed
    assert observe(parse_threshold("latency", "max<31 over 2s"), obs)[1]
    # 1 s windows of 429s: second 2 is all 429s, the others none
    assert observe(parse_threshold("http_429", "rate<0.5 over 1s"), obs) == (1.0, False)
    observed, passed = observe(parse_threshold("http_429", "rate<0.5"), obs)
    assert observed == pytest.approx(1 / 3) and passed


def test_a_window_longer_than_the_run_is_one_window_over_it() -> None:
    spec = parse_threshold("latency", "max<31 over 1h")
    observed, passed = observe(spec, Observations.of_artifact(answers_only()))
    assert observed == pytest.approx(30, rel=1e-3) and passed


def test_over_a_window_a_transport_errors_time_to_fail_can_only_fail_it() -> None:
    # the per-second series does not tell errors from answers: the 2 s error counts there
    spec = parse_threshold("latency", "max<1000 over 60s")
    assert observe(spec, Observations.of_artifact(artifact()))[1] is False


def test_entries_read_back_give_the_same_outcomes() -> None:
    doc = artifact()
    specs = [
        parse_threshold("http_req_duration", "p(95)<25"),
        parse_threshold("http_429", "rate<0.5 over 2s", abort_on_fail=True),
    ]
    doc["thresholds"] = evaluate(specs, doc, fail_on_generator_bottleneck=True)
    assert [e["name"] for e in doc["thresholds"]] == ["http_req_duration", "http_429", "generator"]
    again = evaluate(specs_of(doc), doc, fail_on_generator_bottleneck=True)
    assert again == doc["thresholds"]


@pytest.mark.parametrize(
    ("status", "passed", "aborted_run", "code"),
    [
        ("completed", [True], False, ExitCode.OK),  # all held
        ("completed", [True, False], False, ExitCode.THRESHOLDS_FAILED),  # one failed
        ("completed", [], False, ExitCode.OK),  # no thresholds: nothing to fail
        ("aborted", [False], True, ExitCode.THRESHOLDS_FAILED),  # a threshold stopped it
        ("aborted", [False], False, ExitCode.SAFETY_STOP),  # a safety stop, thresholds aside
        ("interrupted", [False], False, ExitCode.INTERRUPTED),  # Ctrl-C keeps its code
    ],
)
def test_the_exit_code(status: str, passed: list[bool], aborted_run: bool, code: int) -> None:
    entries = [{"passed": p, "aborted_run": aborted_run and not p} for p in passed]
    assert exit_code_of({"status": status, "thresholds": entries}) == code


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARRIVALS, st.floats(min_value=0.001, max_value=100))
def test_a_percentile_bound_passes_exactly_above_the_observed_value(
    arrivals: list[Arrival], percentile: float
) -> None:
    obs = Observations.of_artifact(artifact(arrivals))
    observed, _ = observe(parse_threshold("latency", f"p({percentile})<1"), obs)
    if observed is None:
        return
    above = parse_threshold("latency", f"p({percentile})<{observed * 1.001 + 0.001}")
    at = parse_threshold("latency", f"p({percentile})<{observed}")
    assert observe(above, obs)[1] and not observe(at, obs)[1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARRIVALS)
def test_an_abort_never_comes_from_a_threshold_that_holds(arrivals: list[Arrival]) -> None:
    obs = Observations.of_artifact(artifact(arrivals))
    loose = parse_threshold("errors", "count<1000000", abort_on_fail=True)
    assert failed_abort([loose], obs) is None
    tight = parse_threshold("http_reqs", "count<0", abort_on_fail=True)
    assert failed_abort([tight], obs) is tight  # nothing is fewer than 0
