"""What every rule looks at: the profile, the target, its schedule and where keys sit."""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.arrivals.plan import schedule_of
from loadgen.arrivals.schedule import Schedule
from loadgen.guard.findings import Locator
from loadgen.inputs.models import Profile, ScenarioSpec
from loadgen.inputs.targets import GuardLimits, Target
from loadgen.inputs.tomlsource import KeyLines


@dataclass(frozen=True, slots=True)
class Context:
    profile: Profile
    target: Target
    schedule: Schedule
    at: Locator

    @classmethod
    def of(cls, profile: Profile, target: Target, lines: KeyLines | None = None) -> Context:
        return cls(profile, target, schedule_of(profile), Locator(str(profile.path), lines))

    @property
    def limits(self) -> GuardLimits:
        return self.target.limits

    @property
    def peak_rps(self) -> float:
        return self.schedule.peak_rate

    def request_share(self, spec: ScenarioSpec) -> float:
        """The share of requests that run `spec` (weights are per request)."""
        return spec.weight / sum(s.weight for s in self.profile.scenarios)

    def events_per_request(self) -> float:
        return sum(self.request_share(s) * s.batch_size for s in self.profile.scenarios)

    def event_share(self, spec: ScenarioSpec) -> float:
        """The share of all events that `spec` sends (a batch of 100 counts 100 times)."""
        return self.request_share(spec) * spec.batch_size / self.events_per_request()

    @property
    def peak_events_per_s(self) -> float:
        return self.peak_rps * self.events_per_request()

    @property
    def total_events(self) -> float:
        return float(self.schedule.total_area) * self.events_per_request()
