"""What the ingestion pipeline would make of the accepted events: ordering and overflow.

Ordering rule (`OrderingTracker`). Within one workspace (PostHog token, Customer.io site
id, Segment write key), an id becomes *identified* when an accepted event identifies it:

- PostHog `$identify` identifies its `distinct_id`;
- Segment `identify` identifies its `userId`;
- Customer.io v1 `PUT /customers/{id}` identifies `id` (and its `email` attribute), a v2
  person `identify` identifies its identifier.

An alias or merge *depends* on one id: PostHog `$create_alias` (and `$merge_dangerously`)
on its `distinct_id`, Segment `alias` on its `previousId`, Customer.io `merge_customers`
and v2 person `merge` on their `primary` identifier. Such an event is an ordering
violation when the id it depends on has not been identified by an event accepted earlier
(in arrival order, since the last reset). Either way, once accepted, the alias's new id
(`properties.alias`, `userId`, `secondary`) counts as identified too, so chains of aliases
are judged on their first link only.

Overflow (`OverflowSimulator`). PostHog partitions events by `token:distinct_id`; a per-key
token bucket (100 events/s, burst 1000) reroutes a hot key's excess to an overflow topic
with no key, where those events lose their order. The simulator runs the same bucket per
`workspace:distinct_id` on arrival time and counts the events that would have been
rerouted. Batches sent with `historical_migration: true` go to a separate topic and never
overflow. Events without a distinct_id (e.g. an anonymous Customer.io event) have no key.
"""

from __future__ import annotations

from loadgen.buckets import KeyedBuckets
from loadgen.mock.model import Event
from loadgen.mock.sketch import IdSet


class OrderingTracker:
    """Counts aliases/merges that arrive before the identify they depend on."""

    __slots__ = ("_identified", "violations")

    def __init__(self, exact_limit: int = 100_000) -> None:
        self._identified = IdSet(exact_limit)
        self.violations = 0

    @property
    def approximate(self) -> bool:
        return self._identified.approximate

    def observe(self, workspace: str, event: Event) -> bool:
        """Record one accepted event; True if it is an ordering violation."""
        violation = False
        if event.requires is not None:
            violation = f"{workspace}:{event.requires}" not in self._identified
            self.violations += violation
        for ident in event.identifies:
            self._identified.add(f"{workspace}:{ident}")
        return violation


class OverflowSimulator:
    """Counts events a per-key token bucket would reroute to the unordered overflow topic."""

    __slots__ = ("_buckets", "events")

    def __init__(self, rate: float = 100.0, burst: float = 1000.0, max_keys: int = 200_000) -> None:
        self._buckets = KeyedBuckets(rate, burst, max_keys) if rate > 0 else None
        self.events = 0

    def observe(self, workspace: str, distinct_id: str | None, now: float) -> bool:
        """Record one event at `now`; True if it would have overflowed."""
        if self._buckets is None or distinct_id is None:
            return False
        if self._buckets.take(f"{workspace}:{distinct_id}", now) > 0:
            self.events += 1
            return True
        return False

    @property
    def tracked_keys(self) -> int:
        return len(self._buckets) if self._buckets is not None else 0
