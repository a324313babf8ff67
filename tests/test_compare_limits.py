"""The grammar of `loadgen compare --max-regression` (loadgen/report/limits.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.errors import UsageError
from loadgen.report.limits import parse_limit, parse_limits

# (limit as written, metric, stat label, scenario, amount, unit)
GOOD = [
    # the first example: latency is the trend when none is named
    ("p(95)=10%", "latency", "p(95)", None, 10.0, "%"),
    # an explicit + is the direction of a latency regression
    ("p(99)=+20ms", "latency", "p(99)", None, 20.0, "ms"),
    # seconds are turned into milliseconds
    ("max=+1.5s", "latency", "max", None, 1500.0, "ms"),
    # a fractional percentile, as k6 writes it
    ("p(99.9)=5%", "latency", "p(99.9)", None, 5.0, "%"),
    # the scenario tag, as on a k6 threshold key
    ("p(95){scenario:track}=10%", "latency", "p(95)", "track", 10.0, "%"),
    # spaces around the parts are forgiven (shells and YAML add them)
    (" p(95) { scenario: track } = 10% ", "latency", "p(95)", "track", 10.0, "%"),
    # service time, named as in the profile's [thresholds]
    ("service_time.avg=25%", "service_time", "avg", None, 25.0, "%"),
    # k6's http_req_duration is latency
    ("http_req_duration.med=10%", "latency", "med", None, 10.0, "%"),
    # a share of 429s in percentage points
    ("http_429=+0.5pp", "http_429", None, None, 0.5, "pp"),
    # k6's http_req_failed is the failed share
    ("http_req_failed=1pp", "failed", None, None, 1.0, "pp"),
    # dropped arrivals, with k6's dropped_iterations alias and a tag
    ("dropped_iterations{scenario:identify}=0pp", "dropped", None, "identify", 0.0, "pp"),
    # transport errors
    ("errors=+0.1pp", "errors", None, None, 0.1, "pp"),
    # the achieved rate may fall: its regression sign is -
    ("achieved_rps=-2%", "achieved_rps", None, None, 2.0, "%"),
    # in req/s, with k6's http_reqs alias, sign left out
    ("http_reqs=5/s", "achieved_rps", None, None, 5.0, "/s"),
]


@pytest.mark.parametrize(("text", "metric", "stat", "scenario", "amount", "unit"), GOOD)
def test_good_limits(
    text: str, metric: str, stat: str | None, scenario: str | None, amount: float, unit: str
) -> None:
    limit = parse_limit(text)
    assert limit.metric == metric
    assert (limit.stat.label if limit.stat else None) == stat
    assert limit.scenario == scenario
    assert limit.amount == pytest.approx(amount)
    assert limit.unit == unit


# (limit as written, words the error must contain)
BAD = [
    # no `=`
    ("p(95)<10%", "not METRIC=AMOUNT"),
    # k6 writes percentiles with parentheses: suggest it
    ("p95=10%", "did you mean p(95)?"),
    # a misspelt metric gets the closest name
    ("http_492=1pp", "did you mean http_429?"),
    # an unknown trend before the dot
    ("servce_time.p(95)=10%", "did you mean service_time?"),
    # count is a summary column, not something a latency limit compares
    ("count=10%", "unknown metric 'count'"),
    # a percentile out of range
    ("p(101)=10%", "unknown metric 'p(101)'"),
    # a relative % of a share near 0 means nothing: percentage points
    ("http_429=10%", "percentage points"),
    # latency in req/s
    ("p(95)=5/s", "unit of % ms s"),
    # a number without a unit
    ("p(95)=10", "write e.g. p(95)=10%"),
    # a negative latency limit would demand an improvement: the sign is the way to worse
    ("p(95)=-10%", "write +10%"),
    # a + on the achieved rate points the wrong way
    ("achieved_rps=+5%", "write -5%"),
    # only scenario tags exist
    ("p(95){status:200}=10%", "write {scenario:NAME}"),
    # a tag without a name
    ("p(95){scenario:}=10%", "write {scenario:NAME}"),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_limits_name_themselves_and_a_fix(text: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_limit(text)
    message = str(caught.value)
    assert f"--max-regression {text!r}" in message
    assert words in message


def test_every_bad_limit_is_reported_at_once() -> None:
    with pytest.raises(UsageError) as caught:
        parse_limits(["p(95)=10%", "p95=1%", "http_429=1%"])
    message = str(caught.value)
    assert "'p95=1%'" in message and "'http_429=1%'" in message
    assert "'p(95)=10%'" not in message  # the good one is not blamed


@given(
    st.floats(min_value=0.001, max_value=99.999).map(lambda p: round(p, 3)),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(["%", "ms"]),
)
def test_any_percentile_and_amount_round_trip(percentile: float, amount: int, unit: str) -> None:
    limit = parse_limit(f"p({percentile:g})=+{amount}{unit}")
    assert limit.stat is not None and limit.stat.percentile == pytest.approx(percentile)
    assert (limit.amount, limit.unit) == (amount, unit)
    assert limit.shown == f"+{amount}{unit}"
