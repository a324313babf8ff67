"""The resolved plan of a profile: stages, totals and the mix (its text: `report/plan_text.py`).

A profile and its target are resolved once into a `Plan`, which then flows down:
cli -> guard (lint, brief, the run's gate, approve sign) -> runner -> scenarios. So every
command sees the same schedule, peak rate and events per request by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadgen.arrivals.schedule import Schedule
from loadgen.inputs.models import Profile, ScenarioSpec
from loadgen.inputs.redact import redact_url
from loadgen.inputs.targets import Target
from loadgen.inputs.tomlsource import KeyLines


def schedule_of(profile: Profile) -> Schedule:
    return Schedule(
        profile.load.start_rate, [(s.duration_s, s.target) for s in profile.load.stages]
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """A profile and its target resolved once: the schedule of the profile's ramp, the
    scenario mix, and the profile's key lines (to place findings) as its reader found them."""

    profile: Profile
    target: Target
    schedule: Schedule

    @classmethod
    def build(cls, profile: Profile, target: Target) -> Plan:
        return cls(profile, target, schedule_of(profile))

    @property
    def lines(self) -> KeyLines | None:
        """Where each key of the profile file sits (None for a profile not read from one)."""
        return self.profile.lines

    @property
    def peak_events_per_s(self) -> float:
        return self.schedule.peak_rate * self.events_per_request()

    def request_share(self, spec: ScenarioSpec) -> float:
        """The share of requests that run `spec` (weights are per request)."""
        return spec.weight / sum(s.weight for s in self.profile.scenarios)

    def events_per_request(self) -> float:
        return sum(self.request_share(s) * s.batch_size for s in self.profile.scenarios)

    def event_share(self, spec: ScenarioSpec) -> float:
        """The share of all events that `spec` sends (a batch of 100 counts 100 times)."""
        return self.request_share(spec) * spec.batch_size / self.events_per_request()

    def scenario_rows(self) -> list[dict[str, Any]]:
        shares = [self.request_share(s) for s in self.profile.scenarios]
        counts = apportion(self.schedule.total_requests, shares)
        rows = []
        for spec, share, requests in zip(self.profile.scenarios, shares, counts, strict=True):
            rows.append(
                {
                    "name": spec.name,
                    "api": spec.api,
                    "kind": spec.kind,
                    "weight": spec.weight,
                    "share": round(share, 6),
                    "batch_size": spec.batch_size,
                    "requests": requests,
                    "events": requests * spec.batch_size,
                    "events_names": list(spec.events),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        s, p = self.schedule, self.profile
        stages = [
            {
                "index": i,
                "start_s": st.start_s,
                "end_s": st.end_s,
                "duration_s": st.duration_s,
                "start_rps": st.start_rate,
                "end_rps": st.end_rate,
                "requests": round(s.stage_requests(i), 3),
            }
            for i, st in enumerate(s.stages)
        ]
        scenarios = self.scenario_rows()
        return {
            "profile": {
                "name": p.name,
                "path": str(p.path),
                "hash": p.content_hash,
                "description": p.description,
            },
            "target": {
                "name": self.target.name,
                "url": redact_url(self.target.url),
                "api": self.target.api,
                "environment": self.target.environment,
            },
            "peak_rps": s.peak_rate,
            "peak_events_per_s": self.peak_events_per_s,
            "duration_s": s.duration_s,
            "total_requests": s.total_requests,
            "total_events": sum(row["events"] for row in scenarios),
            "max_in_flight": p.load.max_in_flight,
            "stages": stages,
            "scenarios": scenarios,
            "users": {"count": p.users.count, "skew": p.users.skew, "ordered": p.users.ordered},
            "start": p.start.isoformat() if p.start else None,
            "apps_enabled": p.apps_enabled,
        }


def apportion(total: int, shares: list[float]) -> list[int]:
    """Split `total` by `shares` into whole numbers that add up to `total` (largest remainder)."""
    exact = [total * share for share in shares]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts
