"""A start time that has already passed: the date announced to the pipeline team is stale.

Unlike every other rule this one needs the clock, so `evaluate` (which is given `now`)
calls it apart from the pure `CHECKS`. It warns, never refuses: re-running an old profile
on the embedded mock is fine, but a brief or an approval request with a past date tells
the pipeline team the wrong time.
"""

from __future__ import annotations

from datetime import datetime

from loadgen.guard.context import Context
from loadgen.guard.findings import Finding

RULE = "schedule.start-in-past"


def check(ctx: Context, now: datetime) -> list[Finding]:
    start = ctx.profile.start
    if start is None or start >= now:
        return []
    return [
        ctx.at.finding(
            RULE,
            "warning",
            "the start time has already passed: the pipeline team would be told load "
            "arrives at a time that is over",
            "schedule.start",
            value=start.isoformat(),
            limit=f"after {now.replace(microsecond=0).isoformat()}",
            fix="set [schedule] start to when the run will really happen (a future weekday, "
            "EU business hours), or remove it for a run on the embedded mock",
        )
    ]
