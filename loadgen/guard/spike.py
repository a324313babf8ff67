"""Spike to peak: load must ramp. A profile that starts at, or jumps to, its peak is a DoS.

Only rises are spikes. A ramp down, even an instant drop to zero, sheds load: it is how a
test ends and never hurts the target, so it is not checked. Peaks under the target's
harmless floor are never spikes. No approval covers a spike: the fix is a ramp.
"""

from __future__ import annotations

from loadgen.arrivals.schedule import Stage
from loadgen.durations import format_duration
from loadgen.guard.context import Context
from loadgen.guard.findings import Finding

NEVER_APPROVABLE = "a spike is never approvable: no approval or flag bypasses it"
_REL = 1e-9  # float slack, so that exactly-at-the-limit passes (100 req/s over 10 s at 10/s)


def check(ctx: Context) -> list[Finding]:
    peak = ctx.peak_rps
    if peak <= 0 or peak < ctx.limits.spike_floor_rps:
        return []
    findings = _start(ctx, peak)
    for index, stage in enumerate(ctx.schedule.stages):
        if stage.end_rate > stage.start_rate:
            findings += _rise(ctx, index, stage)
    return findings


def _start(ctx: Context, peak: float) -> list[Finding]:
    start = ctx.profile.load.start_rate
    allowed = ctx.limits.max_start_fraction * peak
    ramp = format_duration((peak - allowed) / ctx.limits.max_slope_rps_per_s)
    fix = f"set load.start_rate <= {allowed:g} and ramp to {peak:g} req/s over at least {ramp}"
    if start >= peak:
        return [
            ctx.at.finding(
                "spike.flat-at-peak",
                "refusal",
                f"the profile runs at its peak from the first second: a denial of service, "
                f"not a load test; {NEVER_APPROVABLE}",
                "load.start_rate",
                value=start,
                limit=allowed,
                fix=fix,
            )
        ]
    if start > allowed * (1 + _REL):
        share = ctx.limits.max_start_fraction * 100
        return [
            ctx.at.finding(
                "spike.start-above-fraction",
                "refusal",
                f"the first stage starts at {start:g} req/s, above {share:g} % of the "
                f"{peak:g} req/s peak; {NEVER_APPROVABLE}",
                "load.start_rate",
                value=start,
                limit=allowed,
                fix=fix,
            )
        ]
    return []


def _rise(ctx: Context, index: int, stage: Stage) -> list[Finding]:
    slope_limit = ctx.limits.max_slope_rps_per_s
    rise = stage.end_rate - stage.start_rate
    needed = format_duration(rise / slope_limit)
    where = f"load.stages[{index}]"
    if stage.duration_s == 0:
        return [
            ctx.at.finding(
                "spike.zero-duration-jump",
                "refusal",
                f"stage {index + 1} jumps from {stage.start_rate:g} to {stage.end_rate:g} "
                f"req/s in zero time (an infinite slope); {NEVER_APPROVABLE}",
                f"{where}.duration",
                value="0s",
                limit=f"{slope_limit:g} req/s per second",
                fix=f"give stage {index + 1} a duration of at least {needed}",
            )
        ]
    slope = rise / stage.duration_s
    if rise <= slope_limit * stage.duration_s * (1 + _REL):
        return []
    return [
        ctx.at.finding(
            "spike.slope",
            "refusal",
            f"stage {index + 1} rises {rise:g} req/s in {format_duration(stage.duration_s)}: "
            f"{slope:.4g} req/s per second, steeper than {slope_limit:g}; {NEVER_APPROVABLE}",
            f"{where}.target",
            value=round(slope, 6),
            limit=slope_limit,
            fix=f"stretch stage {index + 1} to at least {needed}, or split the rise into stages",
        )
    ]
