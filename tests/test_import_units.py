"""The pure parts of `loadgen import`: mapping, batching limits, the ordering rule,
checkpoints and acknowledgements, the reader's offsets, the ramp and the cap's shape."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import GuardRefusal
from loadgen.importer.batches import ENVELOPE_BYTES, Batch, Item, KeyLocks, cut_batches
from loadgen.importer.checkpoint import Acks, Checkpoint, CheckpointError, Counts
from loadgen.importer.guarding import default_ramp
from loadgen.importer.mapping import ApiChoice, ImportMapping
from loadgen.importer.pacing import LinearRamp, burst_for
from loadgen.importer.reader import records
from loadgen.inputs.targets import BUILTIN_LOCAL, LOCAL_CREDENTIALS, GuardLimits, Target
from loadgen.scenarios.api_format import RecordError

POSTHOG = ApiChoice("posthog", "v1", gzip=False, historical=True)
SEGMENT = ApiChoice("segment", "v1", gzip=False, historical=False)
CIO = ApiChoice("customerio", "v2", gzip=False, historical=False)


def mapping(choice: ApiChoice = POSTHOG, identity: str = "10:abc") -> ImportMapping:
    return ImportMapping(choice, LOCAL_CREDENTIALS, identity, started_at=1_700_000_000.0)


# -- mapping ---------------------------------------------------------------------------

MAPPED = [
    # (api, record, kind, keys): the replay mapping, and every id an event touches
    # a PostHog event is sent as is; its distinct_id is the key
    (POSTHOG, {"event": "pageview", "distinct_id": "u1"}, "track", {"u1"}),
    # an alias is keyed on both ids, so it waits for batches holding either
    (
        POSTHOG,
        {"event": "$create_alias", "distinct_id": "u1", "properties": {"alias": "a"}},
        "alias",
        {"u1", "a"},
    ),
    # an identify linking an anonymous id orders the anonymous id's events too
    (
        POSTHOG,
        {"event": "$identify", "distinct_id": "u1", "properties": {"$anon_distinct_id": "anon"}},
        "identify",
        {"u1", "anon"},
    ),
    # a generic record onto Segment becomes a track keyed on its user
    (SEGMENT, {"event": "Signed Up", "distinct_id": "u2"}, "track", {"u2"}),
    # a Segment alias message is keyed on previousId and userId
    (SEGMENT, {"type": "alias", "previousId": "p", "userId": "u"}, "alias", {"p", "u"}),
    # a generic $create_alias onto Customer.io v2 is a merge (kind alias)
    (
        CIO,
        {"event": "$create_alias", "distinct_id": "c1", "properties": {"alias": "c2"}},
        "alias",
        {"c1", "c2"},
    ),
]


@pytest.mark.parametrize(("choice", "record", "kind", "keys"), MAPPED)
def test_records_map_onto_the_api_with_their_ordering_keys(
    choice: ApiChoice, record: dict[str, Any], kind: str, keys: set[str]
) -> None:
    item = mapping(choice).item(7, 100, record)
    assert item.kind == kind
    assert keys <= set(item.keys)


def test_event_ids_are_the_records_own_else_derived_from_file_and_line() -> None:
    own = mapping().item(1, 0, {"event": "e", "distinct_id": "u", "uuid": "my-id"})
    assert own.body["uuid"] == "my-id"  # kept: the customer's id is what dedup needs
    record = {"event": "e", "distinct_id": "u"}
    first = mapping().item(5, 0, record).body["uuid"]
    assert mapping().item(5, 0, dict(record)).body["uuid"] == first  # a resend: same id
    assert mapping().item(6, 0, dict(record)).body["uuid"] != first  # another line
    assert mapping(identity="11:abd").item(5, 0, dict(record)).body["uuid"] != first


def test_segment_message_ids_are_deterministic_too() -> None:
    record = {"event": "Viewed", "distinct_id": "u"}
    one = mapping(SEGMENT).item(9, 0, dict(record)).body["messageId"]
    assert one == mapping(SEGMENT).item(9, 0, dict(record)).body["messageId"]


REJECTED = [
    # (record, what the error says): records the API would refuse are not sent
    ({"event": "e"}, "distinct_id"),  # no distinct_id
    ({"event": "", "distinct_id": "u"}, "event"),  # an empty name
    ({"event": "e", "distinct_id": "u", "properties": {"x": "y" * 1_100_000}}, "per event"),
]


@pytest.mark.parametrize(("record", "says"), REJECTED)
def test_records_the_api_would_reject_raise(record: dict[str, Any], says: str) -> None:
    with pytest.raises(RecordError, match=says):
        mapping().item(1, 0, record)


def test_a_batch_request_is_posthogs_batch_with_historical_migration() -> None:
    m = mapping()
    items = [m.item(i, 0, {"event": "e", "distinct_id": f"u{i}"}) for i in (1, 2)]
    request = m.request(items, 1_700_000_100.0)
    body = orjson.loads(request.body)
    assert request.path == "/batch/"
    assert body["historical_migration"] is True
    assert [e["distinct_id"] for e in body["batch"]] == ["u1", "u2"]


# -- batching ----------------------------------------------------------------------------


def item(line: int, keys: set[str], kind: str = "track", size: int = 10) -> Item:
    return Item(line, 0, {}, kind, frozenset(keys), size)


BATCHING = [
    # (items, batch_size, max_bytes, expected lines per batch)
    # the count limit closes batches
    ([item(i, {f"u{i}"}) for i in range(1, 6)], 2, 10_000, [[1, 2], [3, 4], [5]]),
    # the byte limit closes them: envelope + 2 events of 500 bytes fit, a third does not
    (
        [item(i, {f"u{i}"}, size=500) for i in range(1, 4)],
        100,
        ENVELOPE_BYTES + 1003,
        [[1, 2], [3]],
    ),
    # one event over the limit still goes alone (the mapping refuses events over the cap)
    ([item(1, {"u"}, size=5000)], 100, 2000, [[1]]),
    # an alias after its identify in the same batch goes to the next batch
    (
        [item(1, {"u"}, "identify"), item(2, {"v"}), item(3, {"u", "a"}, "alias")],
        100,
        10_000,
        [[1, 2], [3]],
    ),
    # an alias of another id stays in the batch
    ([item(1, {"u"}, "identify"), item(2, {"w", "a"}, "alias")], 100, 10_000, [[1, 2]]),
]


@pytest.mark.parametrize(("items", "size", "max_bytes", "expected"), BATCHING)
def test_batches_respect_count_bytes_and_dependencies(
    items: list[Item], size: int, max_bytes: int, expected: list[list[int]]
) -> None:
    assert [b.lines for b in cut_batches(items, size, max_bytes)] == expected


def test_segment_caps_batches_at_2500_events() -> None:
    assert mapping(SEGMENT).max_batch_events == 2500
    assert mapping(POSTHOG).limits.batch_bytes == 20_000_000


@settings(max_examples=200, deadline=None)
@given(
    users=st.lists(st.integers(0, 6), min_size=1, max_size=120),
    batch_size=st.integers(1, 8),
    concurrency=st.integers(1, 5),
    seed=st.integers(0, 2**32),
)
def test_any_file_order_keeps_each_ids_order_and_never_shares_an_id_in_flight(
    users: list[int], batch_size: int, concurrency: int, seed: int
) -> None:
    """The session's rule, simulated with batches finishing in a random order: each
    distinct_id's events reach the server in file order, and KeyLocks.claim never sees
    an id already in flight (it raises if it does)."""
    rng = random.Random(seed)
    items = [item(line, {f"u{u}"}) for line, u in enumerate(users, 1)]
    locks = KeyLocks()
    in_flight: list[Batch] = []
    arrived: list[Item] = []
    for batch in cut_batches(items, batch_size, 10_000):
        while len(in_flight) >= concurrency or not locks.free(batch.keys):
            done = in_flight.pop(rng.randrange(len(in_flight)))
            locks.release(done.keys)
            arrived.extend(done.items)  # the server takes a batch when it completes
        locks.claim(batch.keys)
        in_flight.append(batch)
    for done in in_flight:
        arrived.extend(done.items)
    for user in set(users):
        lines = [i.line for i in arrived if f"u{user}" in i.keys]
        assert lines == sorted(lines)
    assert sorted(i.line for i in arrived) == list(range(1, len(users) + 1))


def test_key_locks_refuse_a_second_claim() -> None:
    locks = KeyLocks()
    locks.claim({"u"})
    with pytest.raises(ValueError, match="in flight"):
        locks.claim({"u", "v"})
    locks.release({"u"})
    locks.claim({"u", "v"})


# -- acknowledgements and checkpoints --------------------------------------------------


ACKS = [
    # (registered lines, acknowledged in this order, expected prefix, expected beyond)
    ([1, 2, 3], [1, 2, 3], 3, []),  # all in order: the prefix is everything
    ([1, 2, 3], [2, 3], 0, [2, 3]),  # line 1 outstanding: nothing in the prefix
    ([1, 2, 3, 5], [3, 1], 1, [3]),  # 2 outstanding: 3 is kept beyond the prefix
    ([2, 4, 7], [2, 4, 7], 7, []),  # gaps in line numbers (blank lines) are no holes
]


@pytest.mark.parametrize(("registered", "acked", "prefix", "beyond"), ACKS)
def test_the_prefix_grows_only_over_acknowledged_records(
    registered: list[int], acked: list[int], prefix: int, beyond: list[int]
) -> None:
    acks = Acks(0, 0, [])
    for line in registered:
        acks.register(line, line * 10)
    for line in acked:
        acks.acknowledge(line)
    assert (acks.prefix_line, acks.beyond()) == (prefix, beyond)
    assert acks.prefix_offset == prefix * 10


def test_a_resumed_session_skips_lines_acknowledged_beyond_the_prefix() -> None:
    acks = Acks(10, 100, [12])
    assert acks.known(9) and acks.known(12) and not acks.known(11)
    for line in (11, 12, 13):
        acks.register(line, line * 10)
    acks.acknowledge(12)  # what the session does with a known line
    acks.acknowledge(11)
    assert (acks.prefix_line, acks.beyond()) == (12, [])


def test_a_checkpoint_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    counts = Counts(read=5, accepted=3, dead_lettered=1, skipped=1, retries=2, sessions=1)
    cp = Checkpoint("f.ndjson", "9:ab", "ndjson", "posthog", 1.5, 4, 40, [6, 9], counts, "x")
    cp.write(path)
    assert Checkpoint.read(path) == cp
    assert not (tmp_path / ".cp.json.tmp").exists()  # renamed over, nothing left behind


@pytest.mark.parametrize(
    "content",
    [
        b"{broken",  # half a file: not JSON
        b'{"version": 99, "counts": {}}',  # another version
        b"[]",  # not an object
    ],
)
def test_a_bad_checkpoint_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cp.json"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="delete it"):
        Checkpoint.read(path)


# -- the reader --------------------------------------------------------------------------


def test_reading_from_a_checkpoint_offset_gives_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2}\nnot json\n{"a": 3}\n')
    every = list(records(path, "ndjson"))
    assert [r.line for r in every] == [1, 3, 4, 5]  # the blank line 2 is no record
    assert isinstance(every[2].value, str) and every[2].raw == "not json\n"
    rest = list(records(path, "ndjson", start_line=every[1].line, start_offset=every[1].end))
    assert rest == every[2:]


def test_csv_resumes_by_line(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("event,distinct_id\npv,u1\npv,u2\npv,u3\n")
    assert [r.line for r in records(path, "csv", start_line=3)] == [4]


# -- pacing and the guard's ramp ---------------------------------------------------------

RAMPS = [
    # (start, peak, ramp_s, t, area): requests planned by t
    (10, 100, 10, 0, 0),  # nothing at the start
    (10, 100, 10, 10, 550),  # the trapezoid: (10 + 100) / 2 * 10
    (10, 100, 10, 12, 750),  # then the peak: 550 + 2 * 100
    (50, 50, 0, 3, 150),  # no ramp: flat
]


@pytest.mark.parametrize(("start", "peak", "ramp_s", "t", "area"), RAMPS)
def test_the_linear_ramps_area(
    start: float, peak: float, ramp_s: float, t: float, area: float
) -> None:
    assert LinearRamp(start, peak, ramp_s).area_at(t) == pytest.approx(area)


@given(st.floats(2, 100_000))
def test_the_cap_holds_in_any_second_burst_plus_drain(cap: float) -> None:
    """A leaky bucket of capacity c draining r/s admits c + r in any 1 s: at most the cap."""
    burst = burst_for(cap)
    assert burst >= 1 and burst + max(cap - burst, cap * 0.5) <= cap


def steep_target(limits: dict[str, Any]) -> Target:
    guard = replace(GuardLimits(), **limits)
    return replace(BUILTIN_LOCAL, name="t", limits=guard)


GUARDED_RAMPS = [
    # (peak, ramp_s, limits, refused): the guard's spike and slope rules on --rate
    (100, None, {}, False),  # the default ramp: 10 -> 100 over 60 s, gentle
    (100, 5, {}, True),  # 90 req/s in 5 s climbs 18/s: steeper than 10/s allows
    (100, 9, {}, False),  # exactly the allowed slope
    (8, 0, {}, False),  # under the spike floor: no ramp needed
    (1000, 1, {"max_slope_rps_per_s": 1000}, False),  # a target that allows steep ramps
]


@pytest.mark.parametrize(("peak", "ramp_s", "limits", "refused"), GUARDED_RAMPS)
def test_the_default_ramp_follows_the_targets_guard(
    peak: float, ramp_s: float | None, limits: dict[str, Any], refused: bool
) -> None:
    if refused:
        with pytest.raises(GuardRefusal, match="--ramp"):
            default_ramp(steep_target(limits), peak, ramp_s)
    else:
        ramp = default_ramp(steep_target(limits), peak, ramp_s)
        assert ramp.rate_at(1e9) == peak


def test_a_dead_letter_entry_cut_by_a_kill_does_not_swallow_the_next(tmp_path: Path) -> None:
    from loadgen.importer.sender import DeadLetters, dead_lettered_lines

    path = tmp_path / "dead.ndjson"
    path.write_bytes(b'{"line": 3, "reason": "x"}\n{"line": 7, "rea')  # cut mid-entry
    assert dead_lettered_lines(path) == {3}
    dead = DeadLetters(path, "e.ndjson")
    dead.write(9, {"event": "e"}, "malformed record: why", None)
    dead.close()
    assert dead_lettered_lines(path) == {3, 9}
