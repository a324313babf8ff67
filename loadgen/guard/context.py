"""What every rule looks at: the plan (profile, target, schedule) and where keys sit."""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import Schedule
from loadgen.guard.findings import Locator
from loadgen.inputs.models import Profile
from loadgen.inputs.targets import GuardLimits, Target


@dataclass(frozen=True, slots=True)
class Context:
    plan: Plan
    at: Locator

    @classmethod
    def of(cls, plan: Plan) -> Context:
        """Findings are placed on the profile's lines as its reader found them."""
        return cls(plan, Locator(str(plan.profile.path), plan.lines))

    @property
    def profile(self) -> Profile:
        return self.plan.profile

    @property
    def target(self) -> Target:
        return self.plan.target

    @property
    def schedule(self) -> Schedule:
        return self.plan.schedule

    @property
    def limits(self) -> GuardLimits:
        return self.plan.target.limits

    @property
    def peak_rps(self) -> float:
        return self.plan.schedule.peak_rate

    @property
    def total_events(self) -> float:
        return float(self.plan.schedule.total_area) * self.plan.events_per_request()
