"""When the run happens: the pipeline team wants weekdays with the most EU-timezone overlap.

The whole run, from `schedule.start` to its last second, should fall on one weekday
between the target's business hours in Europe/Berlin (default 08:00-17:00). Ending at
exactly 17:00 is inside; one second later is not.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loadgen.guard.context import Context
from loadgen.guard.findings import Finding

BERLIN = ZoneInfo("Europe/Berlin")
_EPSILON = timedelta(microseconds=1)


def window(start: datetime, duration_s: float) -> tuple[datetime, datetime]:
    """The run's start and end in Europe/Berlin."""
    local = start.astimezone(BERLIN)
    return local, (start + timedelta(seconds=duration_s)).astimezone(BERLIN)


def days_touched(start: datetime, end: datetime) -> list[date]:
    """Every calendar day the run spends time on (an end at midnight adds no day)."""
    last = (end - _EPSILON).date() if end > start else start.date()
    days, day = [], start.date()
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


def check(ctx: Context) -> list[Finding]:
    start = ctx.profile.start
    if start is None:
        if ctx.target.environment == "local":
            return []  # the embedded mock has no pipeline team to warn
        return [
            ctx.at.finding(
                "schedule.missing-start",
                "warning",
                "the profile has no start time; the pipeline team needs to know when load arrives",
                "schedule.start",
                fix="add [schedule] start = 2026-12-01T10:00:00+01:00 (a weekday, "
                "EU business hours)",
            )
        ]
    local, end = window(start, ctx.schedule.duration_s)
    return [*_weekend(ctx, local, end), *_hours(ctx, local, end)]


def _weekend(ctx: Context, local: datetime, end: datetime) -> list[Finding]:
    weekend = [d for d in days_touched(local, end) if d.weekday() >= 5]
    if not weekend:
        return []
    return [
        ctx.at.finding(
            "schedule.weekend",
            "warning",
            f"the run falls on a weekend ({weekend[0]:%A %Y-%m-%d} in Europe/Berlin), when the "
            "pipeline team is not around",
            "schedule.start",
            value=local.isoformat(),
            limit="Monday-Friday",
            fix="move schedule.start to a weekday",
        )
    ]


def _hours(ctx: Context, local: datetime, end: datetime) -> list[Finding]:
    first, last = ctx.limits.business_hours
    opens, closes = time(first), (time(last) if last < 24 else time.max)
    inside = end.date() == local.date() and opens <= local.time() and end.time() <= closes
    if inside:
        return []
    return [
        ctx.at.finding(
            "schedule.outside-eu-hours",
            "warning",
            f"the run goes from {local:%a %H:%M} to {end:%a %H:%M} Europe/Berlin, outside "
            f"{first:02d}:00-{last:02d}:00 when the pipeline team is in",
            "schedule.start",
            value=f"{local:%H:%M}-{end:%H:%M}",
            limit=f"{first:02d}:00-{last:02d}:00",
            fix=f"start at or after {first:02d}:00 and end by {last:02d}:00 Europe/Berlin "
            "on a weekday",
        )
    ]
