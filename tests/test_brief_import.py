"""The import brief's logic: records summarized in every shape, counting exact or bounded,
the scan of small files, the batching and the hot distinct_ids (`loadgen brief --import`)."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import UsageError
from loadgen.guard.import_brief import build, render, to_json
from loadgen.guard.import_scan import (
    Bursts,
    HeavyHitters,
    ImportScan,
    ImportScanError,
    detect_format,
    scan,
    summarize,
)
from loadgen.inputs.targets import BUILTIN_LOCAL, GuardLimits, Target
from loadgen.scenarios.api_format import RecordError


def write_ndjson(path: Path, records: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def api_target(api: str, rps: float = 100, hot: float = 100) -> Target:
    limits = GuardLimits(workspace_rps_limit=rps, hot_user_events_per_s=hot)
    return Target("staging", "https://capture.example.com", api, "auto", "staging", limits=limits)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # a PostHog event: its own distinct_id and name
        ({"event": "pageview", "distinct_id": "u1"}, ("u1", "pageview", "event")),
        # PostHog keeps the distinct_id in properties too
        ({"event": "x", "properties": {"distinct_id": 7}}, ("7", "x", "event")),
        # the handbook's call-outs: identify, alias and merge
        ({"event": "$identify", "distinct_id": "u"}, ("u", "$identify", "identify")),
        ({"event": "$create_alias", "distinct_id": "u"}, ("u", "$create_alias", "alias")),
        ({"event": "$merge_dangerously", "distinct_id": "u"}, ("u", "$merge_dangerously", "merge")),
        # a Segment track is named by its event, other types by the type
        ({"type": "track", "event": "Signed Up", "userId": "s"}, ("s", "Signed Up", "event")),
        ({"type": "identify", "anonymousId": "a"}, ("a", "identify", "identify")),
        ({"type": "alias", "userId": "n", "previousId": "o"}, ("n", "alias", "alias")),
        # a Customer.io v2 entity: identifiers, or primary for a merge
        (
            {"type": "person", "action": "identify", "identifiers": {"id": "c"}},
            ("c", "person identify", "identify"),
        ),
        (
            {"type": "person", "action": "merge", "primary": {"id": "p"}, "secondary": {}},
            ("p", "person merge", "merge"),
        ),
        (
            {"type": "person", "action": "event", "name": "bought", "identifiers": {"id": 3}},
            ("3", "bought", "event"),
        ),
    ],
)
def test_summarize_reads_every_shape(record: dict[str, Any], expected: tuple[str, ...]) -> None:
    summary = summarize(record)
    assert (summary.distinct_id, summary.event, summary.category) == expected
    assert summary.size == len(json.dumps(record, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ({"event": "x"}, "distinct_id"),  # no distinct_id anywhere
        ({"event": "x", "distinct_id": ""}, "distinct_id"),  # an empty one is none
        ({"event": "x", "distinct_id": True}, "distinct_id"),  # a boolean is not an id
        ({"distinct_id": "u"}, "`event`"),  # no event name
        ({"type": "track", "userId": "u"}, "`event`"),  # a Segment track without its event
        ({"event": "x", "distinct_id": "u", "timestamp": "yesterday"}, "ISO 8601"),  # bad time
    ],
)
def test_summarize_refuses_what_cannot_be_sent(record: dict[str, Any], why: str) -> None:
    with pytest.raises(RecordError, match=why):
        summarize(record)


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("events.csv", None, "csv"),  # by extension
        ("events.CSV", None, "csv"),  # whatever its case
        ("events.ndjson", None, "ndjson"),
        ("events.jsonl", None, "ndjson"),  # anything else is NDJSON
        ("events.txt", "csv", "csv"),  # --format wins
    ],
)
def test_detect_format(name: str, fmt: str | None, expected: str) -> None:
    assert detect_format(Path(name), fmt) == expected


def test_detect_format_refuses_an_unknown_format() -> None:
    with pytest.raises(UsageError, match="use ndjson or csv"):
        detect_format(Path("x.ndjson"), "xml")


@given(st.lists(st.integers(0, 30), max_size=400), st.integers(1, 8))
def test_heavy_hitters_exact_equals_counter(keys: list[int], top: int) -> None:
    counter = HeavyHitters(exact_limit=100, capacity=10)
    for key in keys:
        counter.add(str(key))
    truth = Counter(str(k) for k in keys)
    assert counter.exact and counter.counts == dict(truth)  # at most 31 keys: never past 100
    assert [n for _, n in counter.top(top)] == [n for _, n in truth.most_common(top)]


@given(st.lists(st.integers(0, 400), max_size=2000), st.integers(1, 20))
def test_heavy_hitters_bounded_keeps_every_frequent_key(keys: list[int], capacity: int) -> None:
    counter = HeavyHitters(exact_limit=capacity * 2, capacity=capacity)
    for number in keys:
        counter.add(str(number))
    truth = Counter(str(k) for k in keys)
    bound = len(keys) / (capacity + 1)
    assert len(counter.counts) <= (capacity * 2 if counter.exact else capacity)  # bounded
    for key, n in truth.items():
        kept = counter.counts.get(key, 0)
        assert n - bound <= kept <= n  # Misra-Gries: an underestimate, by at most N/(k+1)
        if n > bound:
            assert key in counter.counts


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=1, max_size=1500), st.integers(2, 30))
def test_scan_counts_equal_a_counter(keys: list[int], candidates: int) -> None:
    # Small limits force the bounded summary and the second, exact pass.
    with tempfile.TemporaryDirectory() as tmp:
        path = write_ndjson(
            Path(tmp) / "e.ndjson", [{"event": "e", "distinct_id": f"u{k}"} for k in keys]
        )
        result = scan(path, exact_ids=candidates * 2, candidates=candidates)
    truth = Counter(f"u{k}" for k in keys)
    assert result.records == len(keys)
    for key, n in result.ids.counts.items():
        assert n == truth[key]  # every count the brief prints is exact
    bound = len(keys) / (candidates + 1)
    for key, n in truth.items():
        if n > bound:
            assert key in result.ids.counts  # every frequent id is found
    assert result.passes == (1 if result.ids.exact else 2)


def test_scan_small_file(tmp_path: Path) -> None:
    path = write_ndjson(
        tmp_path / "e.ndjson",
        [
            {"event": "$identify", "distinct_id": "a", "timestamp": "2026-01-01T00:00:00Z"},
            {"event": "pageview", "distinct_id": "a", "timestamp": 1767225600 + 3600},
            {"event": "pageview", "distinct_id": "b"},  # no timestamp: counted as undated
            "",  # a blank line is no record
            "{not json",  # malformed: line 5
            '["a list"]',  # malformed: line 6
            {"type": "alias", "userId": "b", "previousId": "a"},
        ],
    )
    result = scan(path)
    assert (result.records, result.malformed, result.undated) == (4, 2, 2)
    assert [line for line, _ in result.malformed_shown] == [5, 6]
    assert "invalid JSON" in result.malformed_shown[0][1]
    assert "not a JSON object" in result.malformed_shown[1][1]
    assert result.ids.top(2) == [("a", 2), ("b", 2)]
    assert result.names.counts == {"$identify": 1, "pageview": 2, "alias": 1}
    assert result.categories == {"identify": 1, "event": 2, "alias": 1}
    assert (result.first_ts, result.last_ts) == (1767225600.0, 1767229200.0)
    assert result.file_bytes == path.stat().st_size


def test_scan_csv(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "event,distinct_id,timestamp,prop_plan\n"
        "signup,u1,2026-01-01T00:00:00,pro\n"
        "login,u1,,\n"
        "login,u2\n"  # malformed: 2 fields for 4 columns (line 4)
        "login,u2,1767225700,\n",
        encoding="utf-8",
    )
    result = scan(path)
    assert (result.fmt, result.records, result.malformed) == ("csv", 3, 1)
    assert result.malformed_shown == [(4, "expected 4 fields, got 2")]
    assert result.ids.counts == {"u1": 2, "u2": 1}


def test_scan_refuses_a_bad_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("name,who\nx,y\n", encoding="utf-8")
    with pytest.raises(ImportScanError, match=r"e\.csv:1: unknown column 'name'"):
        scan(path)


def scanned(tmp_path: Path, counts: dict[str, int], pad: int = 0) -> ImportScan:
    props = {"p": "x" * pad}
    records = [
        {"event": "e", "distinct_id": key, "properties": props}
        for key, n in counts.items()
        for _ in range(n)
    ]
    return scan(write_ndjson(tmp_path / "e.ndjson", records))


@pytest.mark.parametrize(
    ("api", "asked", "pad", "expected_size"),
    [
        ("posthog", 100, 0, 100),  # PostHog: no cap on events, 20 MB per batch
        ("segment", 5000, 0, 2500),  # Segment caps a batch at 2,500 events
        ("customerio", 100, 10_000, 49),  # 500 KB per v2 batch / ~10 KB per record
        ("segment", 1, 0, 1),  # one record per batch is what was asked
    ],
)
def test_batching_respects_the_api_limits(
    tmp_path: Path, api: str, asked: int, pad: int, expected_size: int
) -> None:
    brief = build(scanned(tmp_path, {"a": 150, "b": 50}, pad), api_target(api), asked, None)
    (row,) = brief.batching
    assert row.batch_size == expected_size
    assert row.requests == -(-200 // expected_size)
    assert row.duration_s == pytest.approx(row.requests / 100)  # at the workspace limit
    assert row.events_per_s == 100 * expected_size


def test_records_over_the_event_limit_are_dead_lettered(tmp_path: Path) -> None:
    # 40 KB records: above Segment's 32 KB per message, within PostHog's 1 MB per event.
    result = scanned(tmp_path, {"a": 3}, pad=40_000)
    rows = {b.api: b for b in build(result, BUILTIN_LOCAL, 100, None).batching}
    assert (rows["segment"].rejected, rows["posthog"].rejected) == (3, 0)
    assert rows["segment"].requests == 0


@pytest.mark.parametrize(
    ("api", "rate", "batch", "hot_ids"),
    [
        # 10 req/s x 10 = 100 events/s: a (75 % of events) gets 75/s, above the threshold of 50
        ("segment", 10, 10, ["a"]),
        # 5 req/s x 10 = 50 events/s: a gets 37.5/s, under 50
        ("segment", 5, 10, []),
        # 20 req/s x 10 = 200 events/s: a 150/s and b 50/s: only a is strictly above
        ("segment", 20, 10, ["a"]),
        # 40 req/s: b reaches 100/s, above 50 too
        ("customerio", 40, 10, ["a", "b"]),
    ],
)
def test_hot_ids_at_the_rate(
    tmp_path: Path, api: str, rate: float, batch: int, hot_ids: list[str]
) -> None:
    result = scanned(tmp_path, {"a": 150, "b": 50})
    brief = build(result, api_target(api, rps=1000, hot=50), batch, rate)
    _, hot = brief.hot_ids()
    assert [h.distinct_id for h in hot] == hot_ids
    assert all(h.busiest_second is None for h in hot)  # not measured: the mean decides


def test_posthog_historical_batches_never_overflow(tmp_path: Path) -> None:
    brief = build(scanned(tmp_path, {"a": 150}), api_target("posthog", hot=1), 100, None)
    text = render(brief)
    assert "never overflow: none loses ordering" in text


def test_a_rate_above_the_workspace_limit_needs_an_approval(tmp_path: Path) -> None:
    result = scanned(tmp_path, {"a": 10})
    assert not build(result, api_target("segment"), 100, 100).needs_approval  # at the limit
    over = build(result, api_target("segment"), 100, 150)
    assert over.needs_approval and to_json(over)["needs_approval"] is True
    assert "above the workspace limit of 100 req/s" in render(over)
    production = Target(
        "prod", "https://capture.example.com", "segment", "auto", "production", limits=GuardLimits()
    )
    in_production = build(result, production, 100, 10)
    assert in_production.needs_approval  # whatever the rate
    assert "every import into a production target" in render(in_production)


@pytest.mark.parametrize(
    ("batch", "rate", "why"),
    [
        (0, None, "--batch-size 0"),  # an empty batch sends nothing
        (100, 0.0, "--rate 0"),  # a rate of 0 never ends
        (100, float("nan"), "--rate nan"),  # not a number
        (100, -5.0, "--rate -5"),
    ],
)
def test_bad_options(tmp_path: Path, batch: int, rate: float | None, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        build(scanned(tmp_path, {"a": 1}), BUILTIN_LOCAL, batch, rate)


@pytest.mark.parametrize(
    ("keys", "window", "over", "peak"),
    [
        # grouped: a's three records are adjacent, so a window of 3 holds them all
        ("aaabbb", 3, 1, {"a": 3, "b": 3}),
        # interleaved: no window of 3 holds more than 2 of either
        ("ababab", 3, 1, {"a": 2, "b": 2}),
        # only ids above `over` are kept
        ("aabccc", 3, 2, {"c": 3}),
        # a window of 1 holds one record: nobody is above 1
        ("aaaa", 1, 1, {}),
        # the window slides: a's two bursts of 2 never meet in a window of 3
        ("aabbaa", 3, 1, {"a": 2, "b": 2}),
    ],
)
def test_bursts_are_the_busiest_window(
    keys: str, window: int, over: int, peak: dict[str, int]
) -> None:
    bursts = Bursts(window, over)
    for key in keys:
        bursts.add(key)
    assert bursts.peak == peak


@given(st.lists(st.sampled_from("abcd"), max_size=200), st.integers(1, 12))
def test_bursts_equal_a_brute_force_max(keys: list[str], window: int) -> None:
    bursts = Bursts(window, 0)
    for key in keys:
        bursts.add(key)
    brute: dict[str, int] = {}
    for end in range(1, len(keys) + 1):
        for key, n in Counter(keys[max(0, end - window) : end]).items():
            brute[key] = max(brute.get(key, 0), n)
    assert bursts.peak == brute


def test_a_grouped_file_is_hot_in_its_busiest_second(tmp_path: Path) -> None:
    # 20 users x 50 events at 10 req/s x 10 = 100 events/s, threshold 40 events/s: each
    # user's mean is 5 % x 100 = 5 events/s, far under 40 ...
    grouped = [{"event": "e", "distinct_id": f"u{u:02d}"} for u in range(20) for _ in range(50)]
    interleaved = [{"event": "e", "distinct_id": f"u{i % 20:02d}"} for i in range(1000)]
    found = {}
    for name, records in (("grouped", grouped), ("interleaved", interleaved)):
        result = scan(
            write_ndjson(tmp_path / f"{name}.ndjson", records), burst_window=100, burst_over=40
        )
        found[name] = build(result, api_target("segment", hot=40), 10, 10).hot_ids()[1]
    # ... but grouped by user, its 50 adjacent records go out within one second: above 40
    assert len(found["grouped"]) == 20
    assert all(h.busiest_second == 50 for h in found["grouped"])
    assert all(h.mean_events_per_s == pytest.approx(5) for h in found["grouped"])
    # interleaved, a second of 100 records holds 5 of each user: nobody is hot
    assert found["interleaved"] == []


def peak_bytes_of_scan(path: Path) -> int:
    tracemalloc.start()
    try:
        scan(path, exact_ids=500, candidates=50, burst_window=200, burst_over=100)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_however_many_ids(tmp_path: Path) -> None:
    # Every record a new distinct_id: the worst case for counting. Past the exact limit,
    # four times the ids must not take noticeably more memory (a dict would take 4x).
    def unique_ids(name: str, n: int) -> Path:
        return write_ndjson(
            tmp_path / name, [{"event": "e", "distinct_id": f"user-{i:012d}"} for i in range(n)]
        )

    small = peak_bytes_of_scan(unique_ids("small.ndjson", 10_000))
    large = peak_bytes_of_scan(unique_ids("large.ndjson", 40_000))
    assert large < small * 1.5
