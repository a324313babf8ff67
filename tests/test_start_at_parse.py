"""`--start-at` read strictly: RFC 3339 with an offset or epoch seconds, nothing ambiguous,
nothing more than a day away (table tests, and round-trip properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.inputs.moment import MAX_DISTANCE_S, StartAtError, iso_utc, parse_start_at

NOW = datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC)
EPOCH_NOW = int(NOW.timestamp())  # 1796216400

ACCEPTED = [
    ("2026-12-02T14:00:00Z", datetime(2026, 12, 2, 14, tzinfo=UTC)),  # UTC with Z
    ("2026-12-02t14:00:00z", datetime(2026, 12, 2, 14, tzinfo=UTC)),  # lower-case t and z
    ("2026-12-02 14:00:00Z", datetime(2026, 12, 2, 14, tzinfo=UTC)),  # RFC 3339's space
    ("2026-12-02T15:30:00+01:30", datetime(2026, 12, 2, 14, tzinfo=UTC)),  # an offset east
    ("2026-12-02T09:00:00-05:00", datetime(2026, 12, 2, 14, tzinfo=UTC)),  # an offset west
    ("2026-12-02T14:00:00.250Z", datetime(2026, 12, 2, 14, 0, 0, 250000, tzinfo=UTC)),  # ms
    ("  2026-12-02T14:00:00Z ", datetime(2026, 12, 2, 14, tzinfo=UTC)),  # spaces around
    (str(EPOCH_NOW + 60), NOW + timedelta(seconds=60)),  # epoch seconds
    (f"{EPOCH_NOW + 60}.5", NOW + timedelta(seconds=60.5)),  # fractional epoch seconds
    ("2026-12-02T12:00:00Z", datetime(2026, 12, 2, 12, tzinfo=UTC)),  # an hour ago: allowed
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_start_times(text: str, expected: datetime) -> None:
    moment = parse_start_at(text, NOW)
    assert moment == expected
    assert moment.tzinfo is UTC


REFUSED = [
    ("2026-12-02T14:00:00", "no time zone"),  # naive: each pod would read its own zone
    ("2026-12-02T14:00", "no time zone"),  # naive, without seconds
    ("2026-12-02", "not a time"),  # a date alone
    ("14:00:00Z", "not a time"),  # a time alone
    ("tomorrow", "not a time"),  # garbage
    ("", "not a time"),  # empty
    ("-5", "not a time"),  # a negative epoch is no agreed start
    ("1e9", "not a time"),  # exponents are not epoch seconds
    ("2026-13-02T14:00:00Z", "month must be in 1..12"),  # no 13th month
    ("2026-12-02T25:00:00Z", "hour must be in 0..23"),  # no 25th hour
    ("2026-12-04T14:00:00Z", "h ahead"),  # two days ahead: a typo, not a wait
    ("2026-11-30T14:00:00Z", "h ago"),  # two days ago: the whole run would be skipped
    (str(EPOCH_NOW * 1000), "out of range (milliseconds?"),  # epoch milliseconds by mistake
    ("9" * 400, "out of range"),  # too many digits for a float
    (str(EPOCH_NOW + 90_000), "h ahead"),  # 25 h ahead in epoch seconds
]


@pytest.mark.parametrize(("text", "why"), REFUSED)
def test_refused_start_times_say_why_with_an_example(text: str, why: str) -> None:
    with pytest.raises(StartAtError) as caught:
        parse_start_at(text, NOW)
    message = str(caught.value)
    assert why in message
    if "h a" not in why:  # a time that cannot be read comes with how to write one
        assert "2026-12-02T14:00:00Z" in message and "epoch seconds" in message


@given(st.floats(-MAX_DISTANCE_S, MAX_DISTANCE_S))
def test_epoch_seconds_round_trip(offset_s: float) -> None:
    seconds = EPOCH_NOW + abs(offset_s)
    text = f"{seconds:.6f}"
    moment = parse_start_at(text, NOW)
    assert abs(moment.timestamp() - float(text)) < 1e-5


@given(
    st.integers(-int(MAX_DISTANCE_S) * 1000, int(MAX_DISTANCE_S) * 1000),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)
def test_rfc3339_in_any_zone_round_trips_to_the_same_instant(
    offset_ms: int, zone: timezone
) -> None:
    instant = NOW + timedelta(milliseconds=offset_ms)
    text = instant.astimezone(zone).isoformat(timespec="milliseconds")
    assert parse_start_at(text, NOW) == instant
    assert parse_start_at(iso_utc(instant), NOW) == instant
