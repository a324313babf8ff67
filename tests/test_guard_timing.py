"""Schedule warnings: weekends and EU business hours in Europe/Berlin, and a missing start."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from loadgen.guard.timing import days_touched
from tests.guard_support import DELETE, rules, stages, target, verdict

SCHEDULE = {"schedule.weekend", "schedule.outside-eu-hours", "schedule.missing-start"}

# (start, run length in seconds, expected warnings); the base run ramps 10 s then holds
CASES = [
    # Tuesday 08:00 Berlin, the first minute of business hours
    ("2026-12-01T08:00:00+01:00", 60, set()),
    # one second earlier is outside
    ("2026-12-01T07:59:59+01:00", 60, {"schedule.outside-eu-hours"}),
    # ending exactly at 17:00 is inside ...
    ("2026-12-01T16:59:00+01:00", 60, set()),
    # ... one second later is not
    ("2026-12-01T16:59:01+01:00", 60, {"schedule.outside-eu-hours"}),
    # the offset is honoured: 07:00Z is 08:00 CET in winter
    ("2026-12-01T07:00:00Z", 60, set()),
    # and summer time: 06:00Z is 08:00 CEST, 05:59Z is 07:59
    ("2026-07-01T06:00:00Z", 60, set()),
    ("2026-07-01T05:59:00Z", 60, {"schedule.outside-eu-hours"}),
    # Saturday at 10:00
    ("2026-12-05T10:00:00+01:00", 60, {"schedule.weekend"}),
    # Sunday 23:30 UTC is already Monday 00:30 in Berlin: not a weekend, but at night
    ("2026-11-29T23:30:00Z", 60, {"schedule.outside-eu-hours"}),
    # Friday 23:00 for exactly 1 h ends at Saturday 00:00: no time spent on the weekend
    ("2026-12-04T23:00:00+01:00", 3600, {"schedule.outside-eu-hours"}),
    # ... a second more and it runs into Saturday
    ("2026-12-04T23:00:00+01:00", 3601, {"schedule.outside-eu-hours", "schedule.weekend"}),
    # Friday 16:00 for 2 h runs past closing time
    ("2026-12-04T16:00:00+01:00", 7200, {"schedule.outside-eu-hours"}),
]


@pytest.mark.parametrize(("start", "length", "expected"), CASES)
def test_schedule_warnings(tmp_path: Path, start: str, length: float, expected: set[str]) -> None:
    v = verdict(
        tmp_path,
        schedule={"start": datetime.fromisoformat(start)},
        load={"start_rate": 0, "stages": stages((10, 50), (length - 10, 50))},
    )
    assert rules(v) & SCHEDULE == expected
    assert not v.refused


def test_missing_start_warns_except_against_the_local_mock(tmp_path: Path) -> None:
    staging = verdict(tmp_path, target("staging"), schedule=DELETE)
    local = verdict(tmp_path, target("local"), schedule=DELETE)
    assert rules(staging) & SCHEDULE == {"schedule.missing-start"}
    assert rules(local) & SCHEDULE == set()  # no pipeline team to warn


def test_days_touched() -> None:
    day = datetime.fromisoformat("2026-12-04T23:00:00+01:00")
    midnight = datetime.fromisoformat("2026-12-05T00:00:00+01:00")
    assert [d.day for d in days_touched(day, midnight)] == [4]
    assert [d.day for d in days_touched(day, day)] == [4]  # a zero-length run is on its day
    later = datetime.fromisoformat("2026-12-06T00:00:01+01:00")
    assert [d.day for d in days_touched(day, later)] == [4, 5, 6]
