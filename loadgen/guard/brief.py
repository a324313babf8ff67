"""The heads-up for the pipeline team, as Markdown: every question of their handbook answered
from the profile (schedule, batching, distinct_id variance, event types, apps, peak rate,
duration, ramp-up), plus the expected 429s at the workspace limit, the guard's findings
and the approval status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import Schedule
from loadgen.durations import format_duration
from loadgen.guard.context import Context
from loadgen.guard.events import merge_shares
from loadgen.guard.findings import describe
from loadgen.guard.payload import estimate, limits_for
from loadgen.guard.population import (
    TOPS,
    expected_top_shares,
    hottest_user_events_per_s,
    overflow_events_per_s,
)
from loadgen.guard.rules import Verdict
from loadgen.guard.timing import BERLIN
from loadgen.inputs.models import Profile
from loadgen.inputs.redact import redact_url
from loadgen.inputs.targets import Target
from loadgen.report.plan_text import render_chart


def excess_over(schedule: Schedule, limit: float) -> tuple[float, float]:
    """(requests, seconds) planned above `limit` req/s: the integral of max(0, rate - limit)
    over the schedule, and the time spent above it. Exact for the piecewise-linear curve."""
    requests = seconds = 0.0
    for stage in schedule.stages:
        lo, hi = sorted((stage.start_rate, stage.end_rate))
        if stage.duration_s == 0 or hi <= limit:
            continue
        if lo >= limit:
            above = stage.duration_s
            requests += above * ((stage.start_rate + stage.end_rate) / 2 - limit)
        else:
            above = stage.duration_s * (hi - limit) / (hi - lo)
            requests += above * (hi - limit) / 2
        seconds += above
    return requests, seconds


def render_brief(plan: Plan, verdict: Verdict) -> str:
    """The heads-up for `plan`, with the guard's `verdict` on that same plan."""
    profile, target, ctx = plan.profile, plan.target, Context.of(plan)
    sections = [
        _header(profile, target, verdict),
        _schedule(profile, plan),
        _peak(ctx, plan),
        _ramp(plan),
        _batching(ctx),
        _event_types(ctx, plan),
        _variance(ctx, plan),
        _apps(profile),
        _throttling(ctx, plan),
        _findings(verdict),
        _approval(verdict),
    ]
    return "\n\n".join(sections) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _header(profile: Profile, target: Target, verdict: Verdict) -> str:
    state = "**refused**" if verdict.refused else "accepted"
    counts = f"{len(verdict.refusals)} refusal(s), {len(verdict.warnings)} warning(s)"
    rows: list[list[object]] = [
        ["profile", f"`{profile.path}` (`{profile.content_hash}`)"],
        [
            "target",
            f"`{target.name}`: {redact_url(target.url)} ({target.environment}, API {target.api})",
        ],
        ["guard verdict", f"{state}: {counts}"],
        ["approval", verdict.approval_status],
    ]
    title = f"# Heads-up: load test `{profile.name}` against `{target.name}`"
    intro = f"> {profile.description}\n\n" if profile.description else ""
    return f"{title}\n\n{intro}{_table(['item', 'value'], rows)}"


def _when(moment: datetime) -> str:
    """To the second: a 40 s run must not start and end at the same printed minute."""
    local = moment.astimezone(BERLIN)
    return (
        f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC = "
        f"{local:%A %Y-%m-%d %H:%M:%S} Europe/Berlin ({local:%Z})"
    )


def _schedule(profile: Profile, plan: Plan) -> str:
    out = ["## When it is scheduled"]
    if profile.start is None:
        out.append("\nNot scheduled yet: the profile has no `[schedule] start`.")
        return "\n".join(out)
    end = profile.start + timedelta(seconds=plan.schedule.duration_s)
    took = format_duration(plan.schedule.duration_s)
    out += ["", f"- start: {_when(profile.start)}", f"- end: {_when(end)} ({took} later)"]
    return "\n".join(out)


def _peak(ctx: Context, plan: Plan) -> str:
    d = plan.to_dict()
    return "\n".join(
        [
            "## Peak rate and total duration",
            "",
            f"- peak rate: {ctx.peak_rps:g} requests/s = {plan.peak_events_per_s:,.4g} events/s",
            f"- total duration: {format_duration(plan.schedule.duration_s)}",
            f"- total: {d['total_requests']:,} requests, {d['total_events']:,} events",
        ]
    )


def _ramp(plan: Plan) -> str:
    rows: list[list[object]] = [
        [
            i + 1,
            format_duration(st.start_s),
            format_duration(st.duration_s),
            f"{st.start_rate:g} → {st.end_rate:g}",
        ]
        for i, st in enumerate(plan.schedule.stages)
    ]
    table = _table(["stage", "from", "duration", "requests/s"], rows)
    chart = "\n".join(render_chart(plan.schedule))
    return f"## Ramp-up profile\n\n{table}\n\n```text\n{chart}\n```"


def _batching(ctx: Context) -> str:
    rows: list[list[object]] = []
    for spec in ctx.profile.scenarios:
        rps = ctx.peak_rps * ctx.plan.request_share(spec)
        lim = limits_for(spec)
        size = estimate(spec, ctx.profile.users).request_bytes
        limit = lim.batch_bytes if spec.kind == "batch" else lim.request_bytes
        rows.append(
            [
                spec.name,
                f"{spec.api}/{spec.kind}",
                spec.batch_size,
                f"{rps:,.4g}",
                f"{rps * spec.batch_size:,.4g}",
                "gzip" if spec.gzip else "none",
                f"≤ {size:,} B (limit {limit:,} B)",
            ]
        )
    head = ["scenario", "API", "batch size", "req/s at peak", "events/s at peak"]
    head += ["compression", "largest request (estimate)"]
    note = "Events/s = requests/s × batch size."
    return f"## Batching\n\n{note}\n\n{_table(head, rows)}"


def _event_types(ctx: Context, plan: Plan) -> str:
    rows: list[list[object]] = []
    for spec, row in zip(ctx.profile.scenarios, plan.scenario_rows(), strict=True):
        names = ", ".join(f"`{n}`" for n in spec.events) or f"({spec.kind})"
        share = ctx.plan.event_share(spec)
        history = f"history {format_duration(spec.history_s)}" if spec.historical else ""
        rows.append([spec.name, spec.kind, names, f"{share:.1%}", f"{row['events']:,}", history])
    shares = merge_shares(ctx)
    note = (
        f"identify (`$identify`): {shares['identify']:.1%} of events, alias (`$create_alias`, "
        f"merge): {shares['alias']:.1%}. These merge persons and need more care than plain events: "
        "an alias that arrives before the identify it depends on can merge the wrong persons."
    )
    head = ["scenario", "kind", "event names", "share of events", "events", "historical"]
    return f"## Event types\n\n{_table(head, rows)}\n\n{note}"


def _variance(ctx: Context, plan: Plan) -> str:
    users = ctx.profile.users
    shares = expected_top_shares(users.count, users.skew, TOPS)
    total, peak = plan.to_dict()["total_events"], plan.peak_events_per_s
    rows: list[list[object]] = [
        [f"top {k:,}", f"{shares[k]:.3%}", f"{shares[k] * total:,.0f}", f"{shares[k] * peak:,.4g}"]
        for k in TOPS
    ]
    hot, limit = hottest_user_events_per_s(ctx), ctx.limits.hot_user_events_per_s
    state = (
        "above the overflow threshold: the pipeline may relax ordering for that distinct_id"
        if hot > limit
        else "within the overflow threshold"
    )
    head = ["users", "share of events", "expected events over the run", "events/s at peak"]
    out = [
        "## distinct_id variance",
        "",
        f"{users.count:,} distinct ids drawn with Zipf skew {users.skew:g} "
        f"({'uniform' if users.skew == 0 else 'the most active first'}).",
        "",
        _table(head, rows),
        "",
    ]
    if overflow_events_per_s(ctx) < peak:
        out.append(
            f"Historical-migration batches never overflow, so only {hot:,.4g} of the hottest "
            f"user's {shares[1] * peak:,.4g} events/s at peak count against the overflow "
            f"threshold of {limit:g} events/s: {state}."
        )
    else:
        out.append(
            f"Hottest user at peak: {hot:,.4g} events/s (overflow threshold {limit:g} "
            f"events/s): {state}."
        )
    return "\n".join(out)


def _apps(profile: Profile) -> str:
    answer = {True: "yes", False: "no", None: "not stated (`apps_enabled` is missing)"}
    return f"## Apps\n\nApps (plugins, destinations) enabled: {answer[profile.apps_enabled]}."


def _throttling(ctx: Context, plan: Plan) -> str:
    limit = ctx.limits.workspace_rps_limit
    requests, seconds = excess_over(ctx.schedule, limit)
    head = f"## Expected 429s at the workspace limit\n\nWorkspace limit: {limit:g} requests/s. "
    if requests <= 0:
        return head + "The schedule never goes above it: no 429s are expected from the limit."
    total = plan.schedule.total_requests  # the plan's count, as everywhere else in the brief
    return head + (
        f"The schedule goes above it for {format_duration(seconds)}: about {requests:,.0f} "
        f"requests ({requests / max(total, 1):.1%} of {total:,}) would be answered 429 unless "
        "the limit is raised for this run."
    )


def _findings(verdict: Verdict) -> str:
    if not verdict.findings:
        return "## Guard findings\n\nNone: every rule passes."
    lines = ["## Guard findings", ""]
    for f in verdict.findings:
        label = "approved" if f.approved else f.severity
        lines.append(f"- **{label}** `{f.rule}` ({f.where()}): {describe(f)}")
    return "\n".join(lines)


def _approval(verdict: Verdict) -> str:
    need = "needed" if verdict.needs_approval else "not needed"
    return f"## Approval\n\nAn approval is {need} for this run. Status: {verdict.approval_status}."
