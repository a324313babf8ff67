"""The target's limits: workspace rate, run length, total volume, and production rules.

`limit.workspace-rps` and `target.production-needs-approval` are the only refusals an
approval can cover (`APPROVABLE`): both are about the pipeline team accepting load they
have planned for, which is exactly what their signature says.
"""

from __future__ import annotations

import math

from loadgen.durations import format_duration
from loadgen.guard.context import Context
from loadgen.guard.findings import UNKNOWN_TARGET, Finding
from loadgen.inputs.targets_file import INIT_HINT

APPROVABLE = frozenset({"limit.workspace-rps", "target.production-needs-approval"})
_REL = 1e-9  # exactly at a limit passes
# Approve a little above the peak: a cap equal to the planned rate leaves retries no room
# and queues first attempts behind every hiccup (the README's sizing advice).
APPROVAL_HEADROOM = 0.05


def suggested_max_rps(peak: float) -> int:
    """The `--max-rps` the guard suggests: the peak plus 5 %, rounded up to whole req/s."""
    return math.ceil(peak * (1 + APPROVAL_HEADROOM) - _REL * peak)


def check(ctx: Context) -> list[Finding]:
    return [*_workspace(ctx), *_production(ctx), *_duration(ctx), *_volume(ctx)]


def _workspace(ctx: Context) -> list[Finding]:
    limit = ctx.limits.workspace_rps_limit
    peak = ctx.peak_rps
    if peak <= limit * (1 + _REL):
        return []
    return [
        ctx.at.finding(
            "limit.workspace-rps",
            "refusal",
            f"peak {peak:g} req/s is above target {ctx.target.name!r}'s workspace limit of "
            f"{limit:g} req/s; it needs an approval from the pipeline team",
            _peak_path(ctx),
            value=peak,
            limit=limit,
            fix=f"lower the peak to {limit:g} req/s, or get a signed approval "
            f"(loadgen approve sign --max-rps {suggested_max_rps(peak)}: the peak + 5 %)",
        )
    ]


def _peak_path(ctx: Context) -> str:
    """The key that sets the peak: the first stage that reaches it, or the start rate."""
    peak = ctx.peak_rps
    for index, stage in enumerate(ctx.profile.load.stages):
        if stage.target >= peak:
            return f"load.stages[{index}].target"
    return "load.start_rate"


def _production(ctx: Context) -> list[Finding]:
    if ctx.target.environment != "production":
        return []
    where = f"targets.{ctx.target.name}.environment"
    found = [
        Finding(
            "target.production-needs-approval",
            "refusal",
            f"target {ctx.target.name!r} is a production target: every run against it needs "
            "a signed approval from the pipeline team",
            ctx.target.source,
            ctx.target.line_of(where),
            where,
            value="production",
            fix="ask the pipeline team for an approval file (loadgen approve sign --max-rps "
            f"{suggested_max_rps(ctx.peak_rps)}) and keep it beside the profile",
        )
    ]
    if ctx.profile.apps_enabled is None:
        found.append(
            ctx.at.finding(
                "apps.missing-for-production",
                "refusal",
                "a production target needs `apps_enabled`: the pipeline team must know whether "
                "apps (plugins, destinations) will process these events",
                "apps_enabled",
                fix="add `apps_enabled = true` or `apps_enabled = false` at the top of the profile",
            )
        )
    return found


def _duration(ctx: Context) -> list[Finding]:
    limit = ctx.limits.max_duration_s
    duration = ctx.schedule.duration_s
    if duration <= limit * (1 + _REL):
        return []
    return [
        ctx.at.finding(
            "limit.duration",
            "warning",
            f"the run lasts {format_duration(duration)}, longer than target "
            f"{ctx.target.name!r} allows ({format_duration(limit)})",
            "load.stages",
            value=format_duration(duration),
            limit=format_duration(limit),
            fix="shorten the stages, or split the run and announce each part",
        )
    ]


def _volume(ctx: Context) -> list[Finding]:
    limit = ctx.limits.max_total_events
    total = ctx.total_events
    if total <= limit * (1 + _REL):
        return []
    return [
        ctx.at.finding(
            "limit.volume",
            "warning",
            f"the run sends about {total:,.0f} events, above target {ctx.target.name!r}'s "
            f"quota of {limit:,.0f}",
            "load.stages",
            value=round(total),
            limit=limit,
            fix="lower the rates, batch sizes or durations, or agree a higher quota",
        )
    ]


def unknown_target(
    name: str, known: list[str], source: str | None, no_file: str = "no targets file found"
) -> Finding:
    """Rule `target.unknown` (the CLI reports it at load time; this is its wording).

    `source` is the targets file read; when there was none, `no_file` says where it looked.
    """
    message = f"unknown target {name!r}: only targets named in the targets file can be used"
    fix = f"use one of: {', '.join(sorted(known))}, or add [targets.{name}] to {source}"
    if source is None:
        message += f"; {no_file}"
        fix = f"{INIT_HINT}, or pass --targets FILE"
    return Finding(UNKNOWN_TARGET, "refusal", message, source, None, "", value=name, fix=fix)
