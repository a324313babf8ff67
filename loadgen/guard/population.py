"""The user population (Zipf over `count` distinct ids) and the hot distinct_id rule.

User k (1-based rank) receives a share k^-s / H(n, s) of all events, where
H(n, s) = sum_{k=1..n} k^-s is the generalised harmonic number; skew s = 0 is uniform.
The math is the sampler's own (`loadgen.scenarios.users`), so the guard predicts exactly
the population a run draws from.
"""

from __future__ import annotations

from loadgen.guard.context import Context
from loadgen.guard.findings import Finding
from loadgen.scenarios.users import HEAD, expected_top_shares, harmonic, hottest_user_share

__all__ = ["expected_top_shares", "harmonic", "hottest_user_share", "top_share"]

EXACT_LIMIT = HEAD  # users.harmonic sums exactly up to here, then integrates
TOPS = (1, 10, 100)


def top_share(k: int, count: int, skew: float) -> float:
    """The share of all events that go to the `k` most active of `count` users."""
    if k >= count:
        return 1.0
    return harmonic(k, skew) / harmonic(count, skew)


def overflow_events_per_s(ctx: Context) -> float:
    """Peak events/s that pass the per-distinct_id overflow limiter.

    PostHog `historical_migration` batches go to their own topic and never overflow, so
    they are left out; every other scenario counts, whatever its API.
    """
    plan = ctx.plan
    exempt = sum(
        plan.event_share(s) for s in plan.profile.scenarios if s.historical and s.api == "posthog"
    )
    return plan.peak_events_per_s * max(0.0, 1.0 - exempt)


def hottest_user_events_per_s(ctx: Context) -> float:
    users = ctx.profile.users
    return overflow_events_per_s(ctx) * hottest_user_share(users.count, users.skew)


def check(ctx: Context) -> list[Finding]:
    limit = ctx.limits.hot_user_events_per_s
    hot = hottest_user_events_per_s(ctx)
    if hot <= limit * (1 + 1e-9):
        return []
    users = ctx.profile.users
    share = hottest_user_share(users.count, users.skew)
    return [
        ctx.at.finding(
            "population.hot-distinct-id",
            "warning",
            f"the hottest of {users.count:,} users (Zipf skew {users.skew:g}) gets "
            f"{share * 100:.3g} % of events: {hot:.4g} events/s at peak, above the partition "
            f"overflow threshold; the pipeline may relax ordering for that distinct_id",
            "users.skew",
            value=round(hot, 3),
            limit=limit,
            fix="raise users.count, lower users.skew or the peak rate, or tell the pipeline "
            "team that ordering for the top users may be relaxed",
        )
    ]
