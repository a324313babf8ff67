"""The rate an import may use, from the same guard as `run`.

With `--profile`: the profile and its target are resolved into a plan and go through
`guard.lint.preflight`, exactly as `run` does (approval beside the profile, spike and peak
rules, calendar): a refusal stops the import; the rate follows the profile's stages, under
the verdict's cap (the approved peak, else the workspace limit).

With `--rate` (or neither: the workspace limit): no profile, so the guard's rate rules are
applied here from the target's own limits: the rate may not exceed the workspace limit
(a higher peak needs a profile and its approval), and the default ramp starts at the
target's allowed first fraction and climbs no faster than its allowed slope. A production
target always needs a profile (and so its approval).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from loadgen.apis import RULES
from loadgen.arrivals.plan import Plan
from loadgen.errors import GuardRefusal
from loadgen.importer.mapping import ApiChoice
from loadgen.importer.pacing import DEFAULT_RAMP_S, CappedCurve, LinearRamp, RateCurve
from loadgen.inputs.targets import Target


@dataclass(frozen=True, slots=True)
class Allowed:
    cap: float
    curve: RateCurve
    choice: ApiChoice
    batch_size: int | None  # the profile's, for a batch scenario
    on_error: str


def from_profile(plan: Plan) -> Allowed:
    from loadgen.guard.findings import render
    from loadgen.guard.lint import preflight

    verdict = preflight(plan, now=datetime.now(UTC))
    if verdict.refused:
        raise GuardRefusal(verdict.refusal_message())
    if verdict.findings:
        import sys

        print(render(list(verdict.findings), "text", 1), file=sys.stderr)
    schedule = plan.schedule
    spec = plan.profile.scenarios[0]
    choice = ApiChoice(spec.api, spec.api_version, spec.gzip, spec.historical)
    return Allowed(
        cap=verdict.rate_cap,
        curve=CappedCurve(schedule, schedule.duration_s, verdict.rate_cap),
        choice=choice,
        batch_size=spec.batch_size if spec.kind == "batch" else None,
        on_error=spec.replay.on_error if spec.replay is not None else "fail",
    )


def from_rate(target: Target, rate: float | None, ramp_s: float | None) -> Allowed:
    limits = target.limits
    if target.environment == "production":
        raise GuardRefusal(
            f"target {target.name!r} is production: an import there needs --profile with "
            "its approval (loadgen approve), as `run` does"
        )
    peak = limits.workspace_rps_limit if rate is None else rate
    if peak > limits.workspace_rps_limit:
        raise GuardRefusal(
            f"--rate {peak:g} is above target {target.name!r}'s workspace limit of "
            f"{limits.workspace_rps_limit:g} req/s; fix: a lower --rate, or --profile with "
            "an approved peak"
        )
    return Allowed(peak, default_ramp(target, peak, ramp_s), _target_choice(target), None, "fail")


def default_ramp(target: Target, peak: float, ramp_s: float | None) -> LinearRamp:
    """10 % of the rate (the target's allowed start) rising over 60 s, or `ramp_s`; a
    ramp steeper than the target's allowed slope is a spike, refused like `run` does."""
    limits = target.limits
    if peak <= limits.spike_floor_rps:  # never a spike, as the guard says
        return LinearRamp(peak, peak, 0.0)
    start = peak * limits.max_start_fraction
    shortest = (peak - start) / limits.max_slope_rps_per_s
    seconds = max(DEFAULT_RAMP_S, shortest) if ramp_s is None else ramp_s
    if seconds < shortest * 0.999:
        raise GuardRefusal(
            f"--ramp {seconds:g}s to {peak:g} req/s climbs faster than target "
            f"{target.name!r} allows ({limits.max_slope_rps_per_s:g} req/s per second); "
            f"fix: --ramp {shortest:.3g} or more"
        )
    return LinearRamp(start, peak, seconds)


def _target_choice(target: Target) -> ApiChoice:
    api = target.api if target.api in RULES else "posthog"  # `local` takes any API
    return ApiChoice(api, RULES[api].batch_version, False, True)


__all__ = ["Allowed", "default_ramp", "from_profile", "from_rate"]
