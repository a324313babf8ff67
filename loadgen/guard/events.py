"""Event types that need care: `$identify` and `$create_alias` merge persons, so their
share and their order matter to the pipeline (the handbook's alias-before-identify case).
"""

from __future__ import annotations

from loadgen.guard.context import Context
from loadgen.guard.findings import Finding
from loadgen.guard.population import hottest_user_events_per_s


def merge_shares(ctx: Context) -> dict[str, float]:
    """Share of all events that identify and that alias (merge) persons.

    Only identify and alias scenarios merge: the profile reader refuses `$identify` and
    `$create_alias` as track event names for PostHog, and for Segment and Customer.io such
    a name is just a track event.
    """
    shares = {"identify": 0.0, "alias": 0.0}
    for spec in ctx.profile.scenarios:
        if spec.kind in shares:
            shares[spec.kind] += ctx.plan.event_share(spec)
    return shares


def check(ctx: Context) -> list[Finding]:
    return [*_share(ctx), *_order(ctx)]


def _share(ctx: Context) -> list[Finding]:
    shares = merge_shares(ctx)
    total = shares["identify"] + shares["alias"]
    limit = ctx.limits.identify_alias_share
    if total <= limit + 1e-12:
        return []
    return [
        ctx.at.finding(
            "mix.identify-alias-share",
            "warning",
            f"{total * 100:.3g} % of events are $identify ({shares['identify'] * 100:.3g} %) or "
            f"$create_alias ({shares['alias'] * 100:.3g} %), above {limit * 100:g} %; they "
            "merge persons and cost the pipeline more than plain events",
            "scenarios",
            value=round(total, 6),
            limit=limit,
            fix="lower the weight of identify/alias scenarios, and mention the share in the brief",
        )
    ]


def _order(ctx: Context) -> list[Finding]:
    shares = merge_shares(ctx)
    if shares["alias"] == 0 or shares["identify"] == 0:
        return []
    reasons, path = [], "users.ordered"
    if not ctx.profile.users.ordered:
        reasons.append(
            "users.ordered is false, so a user's alias may be in flight beside its identify"
        )
    hot = hottest_user_events_per_s(ctx)
    if hot > ctx.limits.hot_user_events_per_s * (1 + 1e-9):
        reasons.append(
            f"the hottest user ({hot:.4g} events/s) exceeds the overflow threshold, so the "
            "pipeline may reorder that user's events"
        )
        path = path if not ctx.profile.users.ordered else "users.skew"
    if not reasons:
        return []
    return [
        ctx.at.finding(
            "mix.alias-before-identify",
            "warning",
            "an alias may arrive before the identify it depends on: " + "; ".join(reasons),
            path,
            value=round(shares["alias"], 6),
            fix="set users.ordered = true and keep the hottest user under the overflow "
            "threshold, or drop the alias scenario",
        )
    ]
