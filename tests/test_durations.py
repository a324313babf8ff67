"""Human durations: parsing (table) and formatting round trips (property)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.durations import DurationError, format_duration, parse_duration

PARSE = [
    ("90s", 90.0),  # seconds
    ("5m", 300.0),  # minutes
    ("1h30m", 5400.0),  # units combine
    ("250ms", 0.25),  # sub-second
    ("1.5s", 1.5),  # decimals
    ("2d", 172800.0),  # days
    (45, 45.0),  # a bare number is seconds
    (0, 0.0),  # zero is allowed (a jump stage)
]


@pytest.mark.parametrize(("text", "seconds"), PARSE)
def test_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "",  # empty
        "10 parsecs",  # unknown unit
        "-3s",  # negative
        "5",  # text without a unit
        "1h30",  # trailing number without unit
        True,  # a boolean is not a duration
        float("nan"),  # not finite
        "8d",  # longer than the default maximum of 7 days
    ],
)
def test_parse_rejects(bad: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


FORMAT = [
    (0.25, "250ms"),
    (0, "0s"),
    (90, "1m30s"),
    (5400, "1h30m"),
    (90 * 86400, "90d"),
]


@pytest.mark.parametrize(("seconds", "text"), FORMAT)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=7 * 86400))
def test_format_then_parse_round_trips_whole_seconds(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
