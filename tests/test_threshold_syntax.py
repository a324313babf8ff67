"""Threshold keys and expressions in k6 syntax (loadgen/inputs/threshold_syntax.py): what
parses to what, and what each mistake says and suggests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.inputs.threshold_syntax import (
    METRICS,
    ThresholdSyntaxError,
    format_threshold,
    parse_threshold,
)

SCENARIOS = ("track", "identify")


@pytest.mark.parametrize(
    ("key", "expression", "parsed"),
    [
        # (metric, scenario, aggregation, operator, bound, window)
        ("latency", "p(95)<250", ("latency", None, "p(95)", "<", 250.0, None)),  # the basic form
        ("http_req_duration", "p(99.9) <= 1000", ("latency", None, "p(99.9)", "<=", 1000, None)),
        ("latency{scenario:track}", "med<100", ("latency", "track", "med", "<", 100, None)),  # tag
        ("http_429", "rate<0.01", ("http_429", None, "rate", "<", 0.01, None)),  # a share
        ("errors", "count<10", ("errors", None, "count", "<", 10, None)),  # a count
        ("dropped_iterations", "count==0", ("dropped", None, "count", "==", 0, None)),  # k6 name
        ("dropped", "count===0", ("dropped", None, "count", "==", 0, None)),  # JS's ===
        ("http_req_failed", "rate<0.01", ("failed", None, "rate", "<", 0.01, None)),  # k6 name
        ("http_reqs", "rate>50", ("requests", None, "rate", ">", 50, None)),  # per second
        ("achieved_rate", "ratio>=0.99", ("achieved_rate", None, "ratio", ">=", 0.99, None)),
        ("latency", "p(95)<250 over 30s", ("latency", None, "p(95)", "<", 250, 30.0)),  # window
        ("http_429", "rate<0.05 over 1m", ("http_429", None, "rate", "<", 0.05, 60.0)),
        ("service_time", "avg<20", ("service_time", None, "avg", "<", 20, None)),  # from the send
    ],
)
def test_expressions_parse(key: str, expression: str, parsed: tuple[object, ...]) -> None:
    spec = parse_threshold(key, expression, scenarios=SCENARIOS)
    got = (spec.metric, spec.scenario, spec.aggregation, spec.operator, spec.bound, spec.window_s)
    assert got == parsed
    assert spec.name == key and spec.expression == expression


@pytest.mark.parametrize(
    ("key", "expression", "said", "fix"),
    [
        ("latency", "p(99)<banana", "`banana` is not a number", "plain number"),  # the classic
        ("latncy", "p(95)<250", "unknown metric `latncy`", "did you mean latency?"),  # typo
        ("latency{scenario:trak}", "p(95)<1", "no scenario is named `trak`", "track"),  # tag value
        ("latency{scenaro:track}", "p(95)<1", "unknown tag `scenaro`", "scenario"),  # tag name
        ("latency{track}", "p(95)<1", "is not `{name:value}`", "{scenario:track}"),
        ("latency", "p95<250", "not an aggregation", "did you mean p(95)?"),  # no parentheses
        ("latency", "p(0)<250", "above 0 and at most 100", None),  # no 0th percentile
        ("latency", "p(101)<250", "above 0 and at most 100", None),
        ("errors", "cont<10", "not an aggregation of errors", "did you mean count?"),
        ("http_429", "avg<1", "not an aggregation of http_429", None),  # a share has no avg
        ("latency", "p(95)", "is not `aggregation operator number", "p(95)<250"),  # no bound
        ("latency", "p(95)<250 over 0.5s", "whole seconds", "over 30s"),  # sub-second window
        ("service_time", "p(95)<250 over 30s", "no per-second data", "drop `over 30s`"),
        ("latency{scenario:track}", "p(95)<1 over 30s", "no per-second data", None),  # tagged
        ("achieved_rate{scenario:track}", "ratio>0.9", "takes no scenario tag", None),
        ("latency", "p(95)<inf", "not a finite number", None),
    ],
)
def test_mistakes_say_what_and_suggest_a_fix(
    key: str, expression: str, said: str, fix: str | None
) -> None:
    with pytest.raises(ThresholdSyntaxError) as error:
        parse_threshold(key, expression, scenarios=SCENARIOS)
    assert said in str(error.value)
    if fix is not None:
        assert error.value.fix is not None and fix in error.value.fix


_OPERATORS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
_BOUNDS = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@given(
    metric=st.sampled_from(sorted(METRICS)),
    operator=_OPERATORS,
    bound=_BOUNDS,
    percentile=st.floats(min_value=0.001, max_value=100),
    window=st.one_of(st.none(), st.integers(min_value=1, max_value=3600)),
)
def test_a_parsed_threshold_formats_back_to_itself(
    metric: str, operator: str, bound: float, percentile: float, window: int | None
) -> None:
    info = METRICS[metric]
    aggregation = info.aggregations[0].replace("p(N)", f"p({percentile!r})")
    if window is not None and info.aggregations[0] not in info.windowed:
        window = None
    text = f"{aggregation}{operator}{bound!r}" + (f" over {window}s" if window else "")
    spec = parse_threshold(metric, text)
    again = parse_threshold(metric, format_threshold(spec))
    assert (again.aggregation, again.operator, again.bound, again.window_s) == (
        spec.aggregation,
        spec.operator,
        spec.bound,
        spec.window_s,
    )
