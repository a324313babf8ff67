"""The mock's counters and the JSON served at `GET /_loadgen/stats`.

Shape (counts since start or the last reset):

    {"uptime_s",
     "requests_total": responses to API routes (what a load generator got answered),
     "responses_by_status": {"200": n, ...} for those responses,
     "events_accepted", "events_unique" (distinct event ids among them: PostHog uuid,
     Segment messageId; an event without one counts as unique), "duplicate_event_ids"
     (accepted events whose id was accepted before: what a deduplicating server drops),
     "event_ids_exact" (false once more than `exact_event_ids` ids were seen: then later
     ids are not checked), "busiest_1s_requests" (the most API requests that arrived in
     any sliding 1 s window, 429s included), "ordering_violations", "overflow_events",
     "rate_limited" (429s),
     "apis": {"posthog" | "customerio" | "segment": {
         "requests" (2xx), "events" (accepted), "rejected_events" (207 partials),
         "historical_events", "by_status", "ops": {"track": n, ...},
         "event_names": {name: n}, "event_names_other" (names past the first 10,000),
         "distinct_ids": {"unique", "exact", "top": [{"id", "count", "error"}]},
         "ordering_violations", "ordering_exact", "overflow_events"}},
     "http": {"responses" (every response, admin and 404s too), "by_status", "bytes_in",
              "bytes_out", "connections_open", "connections_total"},
     "faults": {"latency", "error_rate", "stall", "reset_rate",
                "injected": {"errors", "resets", "delayed", "stalled"}}}

An injected reset sends no response: it shows in `faults.injected.resets` only.
Ops are `identify`, `track`, `alias` (PostHog `$create_alias`, Segment alias, Customer.io
merges), `group`, `page`, `screen`, `delete` and Customer.io v2 actions by name.
Distinct ids are counted exactly up to 100,000 ids per API, then with bounded sketches
(see `sketch.py`): `exact` says which; `error` bounds each top count's overestimate.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from loadgen.mock.model import Event
from loadgen.mock.pipeline import OrderingTracker, OverflowSimulator
from loadgen.mock.sketch import IdCounter

MAX_EVENT_NAMES = 10_000
APIS = ("posthog", "customerio", "segment")


@dataclass(frozen=True, slots=True)
class StatsLimits:
    """Memory bounds and the overflow simulation's per-key bucket."""

    exact_ids: int = 100_000
    top_ids: int = 10
    overflow_rate: float = 100.0
    overflow_burst: float = 1000.0
    exact_event_ids: int = 2_000_000  # ~150 MB of ids at most: an import test's worth


class ApiStats:
    """Counters for one API."""

    def __init__(self, limits: StatsLimits) -> None:
        self.requests = self.events = self.rejected_events = self.historical_events = 0
        self.by_status: dict[int, int] = {}
        self.ops: dict[str, int] = {}
        self.event_names: dict[str, int] = {}
        self.event_names_other = 0
        self.ids = IdCounter(limits.exact_ids, max(1000, limits.top_ids * 10))
        self.event_ids = EventIds(limits.exact_event_ids)
        self.ordering = OrderingTracker(limits.exact_ids)
        self.overflow = OverflowSimulator(limits.overflow_rate, limits.overflow_burst)
        self._top = limits.top_ids

    def accept(self, workspace: str, events: list[Event], historical: bool, now: float) -> None:
        self.requests += 1
        self.events += len(events)
        if historical:
            self.historical_events += len(events)
        ops, names = self.ops, self.event_names
        for event in events:
            self.event_ids.add(event.event_id)
            ops[event.op] = ops.get(event.op, 0) + 1
            name = event.name
            if name is not None:
                count = names.get(name)
                if count is not None:
                    names[name] = count + 1
                elif len(names) < MAX_EVENT_NAMES:
                    names[name] = 1
                else:
                    self.event_names_other += 1
            if event.distinct_id is not None:
                self.ids.add(event.distinct_id)
                if not historical:
                    self.overflow.observe(workspace, event.distinct_id, now)
            if event.requires is not None or event.identifies:
                self.ordering.observe(workspace, event)

    def snapshot(self) -> dict[str, object]:
        top = [{"id": i, "count": c, "error": e} for i, c, e in self.ids.top(self._top)]
        return {
            "requests": self.requests,
            "events": self.events,
            "rejected_events": self.rejected_events,
            "historical_events": self.historical_events,
            "by_status": _by_status(self.by_status),
            "ops": dict(sorted(self.ops.items())),
            "event_names": dict(sorted(self.event_names.items())),
            "event_names_other": self.event_names_other,
            "distinct_ids": {"unique": self.ids.unique(), "exact": self.ids.exact, "top": top},
            "ordering_violations": self.ordering.violations,
            "ordering_exact": not self.ordering.approximate,
            "overflow_events": self.overflow.events,
        }


class EventIds:
    """Accepted event ids, exactly up to `limit` of them: duplicates are what a server that
    deduplicates on ids (PostHog) would drop."""

    __slots__ = ("_limit", "_seen", "duplicates", "exact")

    def __init__(self, limit: int) -> None:
        self._limit, self._seen = limit, set[str]()
        self.duplicates, self.exact = 0, True

    def add(self, event_id: str | None) -> None:
        if event_id is None:
            return
        if event_id in self._seen:
            self.duplicates += 1
        elif len(self._seen) < self._limit:
            self._seen.add(event_id)
        else:
            self.exact = False


class Busiest:
    """The most arrivals in any sliding window of `window_s` (the times are monotonic)."""

    __slots__ = ("_times", "_window", "most")

    def __init__(self, window_s: float = 1.0) -> None:
        self._times: deque[float] = deque()
        self._window, self.most = window_s, 0

    def arrive(self, now: float) -> None:
        times = self._times
        times.append(now)
        while times[0] <= now - self._window:
            times.popleft()
        self.most = max(self.most, len(times))


class Stats:
    """Everything the mock counts; reset as a whole by `POST /_loadgen/reset`."""

    def __init__(self, limits: StatsLimits | None = None) -> None:
        self.limits = limits or StatsLimits()
        self.connections_open = 0  # live state, not a count: survives resets
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.responses = self.bytes_in = self.bytes_out = self.rate_limited = 0
        self.api_responses = 0
        self.by_status: dict[int, int] = {}
        self.api_by_status: dict[int, int] = {}
        self.connections_total = 0
        self.apis = {api: ApiStats(self.limits) for api in APIS}
        self.busiest = Busiest()

    def arrival(self, now: float) -> None:
        """One request to an API route arrived (before any answer, 429s included)."""
        self.busiest.arrive(now)

    def response(self, api: str, status: int, sent: int) -> None:
        """Count one response sent; only API routes count in the API totals."""
        self.responses += 1
        self.bytes_out += sent
        self.by_status[status] = self.by_status.get(status, 0) + 1
        per_api = self.apis.get(api)
        if per_api is not None:
            per_api.by_status[status] = per_api.by_status.get(status, 0) + 1
            self.api_responses += 1
            self.api_by_status[status] = self.api_by_status.get(status, 0) + 1
            if status == 429:
                self.rate_limited += 1

    def snapshot(self, faults: dict[str, object]) -> dict[str, object]:
        apis = {name: api.snapshot() for name, api in self.apis.items()}
        return {
            "uptime_s": round(time.monotonic() - self.started, 3),
            "requests_total": self.api_responses,
            "responses_by_status": _by_status(self.api_by_status),
            "events_accepted": sum(a.events for a in self.apis.values()),
            "events_unique": sum(a.events - a.event_ids.duplicates for a in self.apis.values()),
            "duplicate_event_ids": sum(a.event_ids.duplicates for a in self.apis.values()),
            "event_ids_exact": all(a.event_ids.exact for a in self.apis.values()),
            "busiest_1s_requests": self.busiest.most,
            "ordering_violations": sum(a.ordering.violations for a in self.apis.values()),
            "overflow_events": sum(a.overflow.events for a in self.apis.values()),
            "rate_limited": self.rate_limited,
            "apis": apis,
            "http": {
                "responses": self.responses,
                "by_status": _by_status(self.by_status),
                "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out,
                "connections_open": self.connections_open,
                "connections_total": self.connections_total,
            },
            "faults": faults,
        }


def _by_status(counts: dict[int, int]) -> dict[str, int]:
    return {str(status): n for status, n in sorted(counts.items())}
