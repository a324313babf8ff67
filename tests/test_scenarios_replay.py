"""Replay: NDJSON and CSV files streamed in file order, batched, mapped onto each API;
malformed records name their line (or are skipped and counted); constant memory."""

from __future__ import annotations

import tracemalloc
import types
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen.arrivals.plan import Plan
from loadgen.errors import ScenarioExhausted
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from loadgen.scenarios import ReplayError, ReplayExhausted, ScenarioSet
from loadgen.scenarios.replay import ReplayScenario, csv_records, ndjson_records

NOW = 1767225600.0
CREDENTIALS = {
    "posthog": {"token": "phc_replay"},
    "customerio": {"site_id": "site", "api_key": "key"},
    "segment": {"write_key": "wk"},
}
PROFILE = """name = "replay"
[load]
start_rate = 10
[[load.stages]]
duration = "10s"
target = 10
[[scenarios]]
name = "import"
api = "{api}"
kind = "{kind}"
batch_size = {batch_size}
gzip = {gzip}
{extra}
replay = {{ file = "{file}", on_error = "{on_error}" }}
"""


def scenario_set(
    tmp_path: Path,
    file: str,
    content: str,
    *,
    api: str = "posthog",
    kind: str = "batch",
    batch_size: int = 2,
    on_error: str = "fail",
    gzip: bool = False,
    extra: str = "",
) -> ScenarioSet:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / file).write_text(content)
    path = tmp_path / "data" / "replay.toml"  # the file is found beside the profile
    path.write_text(
        PROFILE.format(
            api=api,
            kind=kind,
            batch_size=batch_size,
            gzip=str(gzip).lower(),
            extra=extra,
            file=file,
            on_error=on_error,
        )
    )
    return ScenarioSet(
        Plan.build(load_profile(path), BUILTIN_LOCAL), CREDENTIALS, clock=lambda: NOW
    )


def drain(scenarios: ScenarioSet) -> list[tuple[str, str, Any, str | None, int]]:
    """Every request until the file is exhausted: (method, path, JSON body, key, events)."""
    out: list[tuple[str, str, Any, str | None, int]] = []
    for n in range(1, 1000):
        try:
            built = scenarios.build(0, n)
        except ReplayExhausted:
            return out
        body = built.request.body
        if dict(built.request.headers).get("Content-Encoding") == "gzip":
            body = zlib.decompress(body, wbits=31)
        request = built.request
        out.append((request.method, request.path, orjson.loads(body), built.key, built.events))
    raise AssertionError("the replay never ended")


NDJSON = "\n".join(
    [
        '{"event": "a", "distinct_id": "u1", "uuid": "fixed-uuid", '
        '"timestamp": "2024-05-01T10:00:00Z"}',
        '{"event": "b", "distinct_id": "u2", "properties": {"x": 1}, "api_key": "other"}',
        "",  # blank lines are ignored
        '{"event": "$identify", "distinct_id": "u3", "$set": {"plan": "pro"}}',
        '{"event": "c", "properties": {"distinct_id": "u4"}}',
        '{"event": "d", "distinct_id": 5}',
    ]
)


def test_posthog_ndjson_is_sent_in_file_order_in_batches(tmp_path: Path) -> None:
    requests = drain(scenario_set(tmp_path, "events.ndjson", NDJSON, extra="historical = true"))
    assert [(r[1], r[4], r[3]) for r in requests] == [("/batch/", 2, None)] * 2 + [
        ("/batch/", 1, None)
    ]
    events = [e for r in requests for e in r[2]["batch"]]
    assert [e["event"] for e in events] == ["a", "b", "$identify", "c", "d"]
    assert events[0]["uuid"] == "fixed-uuid"  # kept as recorded
    assert events[0]["timestamp"] == "2024-05-01T10:00:00Z"
    assert events[1]["properties"] == {"x": 1} and "api_key" not in events[1]
    assert events[2]["$set"] == {"plan": "pro"}
    assert all(e["uuid"] and e["timestamp"] for e in events)  # filled in when missing
    assert requests[0][2]["historical_migration"] is True
    assert requests[0][2]["api_key"] == "phc_replay"


def test_single_requests_carry_the_distinct_id_as_key(tmp_path: Path) -> None:
    requests = drain(scenario_set(tmp_path, "e.ndjson", NDJSON, kind="track", batch_size=1))
    assert [(r[1], r[3]) for r in requests] == [
        ("/i/v0/e/", "u1"),
        ("/i/v0/e/", "u2"),
        ("/i/v0/e/", "u3"),
        ("/i/v0/e/", "u4"),
        ("/i/v0/e/", "5"),
    ]


CSV = (
    "event,distinct_id,timestamp,properties.plan,prop_amount\n"
    "signed_up,u1,2024-05-01T10:00:00+02:00,pro,9.5\n"
    'viewed,"u,2",,,\n'  # a quoted comma; empty cells are left out
    "$identify,u1,1714550400,,\n"  # unix seconds
)


def test_segment_csv_records_map_onto_the_api(tmp_path: Path) -> None:
    requests = drain(
        scenario_set(tmp_path, "e.csv", CSV, api="segment", kind="track", batch_size=1)
    )
    assert [(r[1], r[3]) for r in requests] == [
        ("/v1/track", "u1"),
        ("/v1/track", "u,2"),
        ("/v1/identify", "u1"),
    ]
    first, second, identify = (r[2] for r in requests)
    assert first["userId"] == "u1" and first["event"] == "signed_up"
    assert first["properties"] == {"plan": "pro", "amount": "9.5"}  # CSV cells are strings
    assert first["timestamp"] == "2024-05-01T08:00:00.000Z"  # converted to UTC
    assert second["properties"] == {} and second["timestamp"] == "2026-01-01T00:00:00.000Z"
    assert identify["userId"] == "u1" and identify["timestamp"] == "2024-05-01T08:00:00.000Z"


def test_customerio_v2_maps_generic_records_and_keeps_entities(tmp_path: Path) -> None:
    content = "\n".join(
        [
            '{"event": "purchase", "distinct_id": "c1", "properties": {"price": 5}, '
            '"timestamp": 1714550400000}',  # milliseconds
            '{"type": "person", "action": "identify", "identifiers": {"id": "c2"}}',
            '{"event": "$create_alias", "distinct_id": "c1", "properties": {"alias": "c9"}}',
        ]
    )
    requests = drain(
        scenario_set(
            tmp_path,
            "e.ndjson",
            content,
            api="customerio",
            batch_size=3,
            extra='api_version = "v2"',
        )
    )
    assert len(requests) == 1 and requests[0][1] == "/api/v2/batch"
    event, entity, merge = requests[0][2]["batch"]
    assert event["identifiers"] == {"id": "c1"} and event["action"] == "event"
    assert event["timestamp"] == 1714550400 and event["attributes"] == {"price": 5}
    assert entity == {"type": "person", "action": "identify", "identifiers": {"id": "c2"}}
    assert merge["primary"] == {"id": "c1"} and merge["secondary"] == {"id": "c9"}


def test_customerio_v1_single_track(tmp_path: Path) -> None:
    content = '{"event": "purchase", "distinct_id": "a b/c", "timestamp": "2024-05-01T08:00:00Z"}'
    requests = drain(
        scenario_set(tmp_path, "e.ndjson", content, api="customerio", kind="track", batch_size=1)
    )
    method, path, body, key, _ = requests[0]
    assert (method, path, key) == ("POST", "/api/v1/customers/a%20b%2Fc/events", "a b/c")
    assert body["name"] == "purchase" and body["timestamp"] == 1714550400


# (file content, the line the error names, words in it) — each a malformed record
MALFORMED = [
    ("e.ndjson", '{"event": "a", "distinct_id": "u"}\n{"event": "a",\n', 2, "invalid JSON"),
    ("e.ndjson", "\n\n[1, 2]\n", 3, "not a JSON object"),  # blank lines still count
    ("e.ndjson", '{"distinct_id": "u"}\n', 1, "`event`"),
    ("e.ndjson", '{"event": "a"}\n', 1, "`distinct_id`"),
    ("e.ndjson", '{"event": "a", "distinct_id": "u", "properties": 3}\n', 1, "`properties`"),
    ("e.csv", "event,distinct_id\na,u\nb\n", 3, "expected 2 fields"),
    ("e.csv", "event,distinct_id\n,u\n", 2, "`event`"),
]


@pytest.mark.parametrize(("file", "content", "line", "words"), MALFORMED)
def test_malformed_record_names_file_and_line(
    tmp_path: Path, file: str, content: str, line: int, words: str
) -> None:
    scenarios = scenario_set(tmp_path, file, content, kind="track", batch_size=1)
    with pytest.raises(ReplayError) as info:
        drain(scenarios)
    message = str(info.value)
    assert f"{file}:{line}:" in message and words in message, message


def test_bad_timestamp_is_malformed_for_mapped_records(tmp_path: Path) -> None:
    content = '{"event": "a", "distinct_id": "u", "timestamp": "yesterday"}\n'
    scenarios = scenario_set(
        tmp_path, "e.ndjson", content, api="segment", kind="track", batch_size=1
    )
    with pytest.raises(ReplayError, match=r"e\.ndjson:1: .*ISO 8601"):
        drain(scenarios)


def test_skip_mode_skips_and_counts(tmp_path: Path) -> None:
    content = (
        '{"event": "a", "distinct_id": "u"}\nnot json\n[]\n{"event": "b", "distinct_id": "v"}\n'
    )
    scenarios = scenario_set(tmp_path, "e.ndjson", content, on_error="skip")
    requests = drain(scenarios)
    assert [e["event"] for r in requests for e in r[2]["batch"]] == ["a", "b"]
    assert scenarios.replay_skipped == {"import": 2}


def test_a_bad_csv_header_fails_even_in_skip_mode(tmp_path: Path) -> None:
    scenarios = scenario_set(tmp_path, "e.csv", "event,user\na,u\n", on_error="skip")
    with pytest.raises(ReplayError, match=r"e\.csv:1: unknown column 'user'"):
        scenarios.build(0, 1)


def test_missing_file_is_reported_at_start(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "replay.toml"
    path.write_text(
        PROFILE.format(
            api="posthog",
            kind="batch",
            batch_size=2,
            gzip="false",
            extra="",
            file="nowhere.ndjson",
            on_error="fail",
        )
    )
    with pytest.raises(ReplayError, match="nowhere.ndjson"):
        ScenarioSet(Plan.build(load_profile(path), BUILTIN_LOCAL), CREDENTIALS)


def test_exhausted_replay_keeps_saying_so(tmp_path: Path) -> None:
    scenarios = scenario_set(tmp_path, "e.ndjson", '{"event": "a", "distinct_id": "u"}\n')
    scenarios.build(0, 1)
    for n in (2, 3):
        with pytest.raises(ScenarioExhausted):  # what the engine catches
            scenarios.build(0, n)
    scenarios.close()


def test_gzip_bodies_decompress_to_the_batch(tmp_path: Path) -> None:
    scenarios = scenario_set(tmp_path, "e.ndjson", NDJSON, gzip=True, batch_size=5)
    built = scenarios.build(0, 1)
    assert dict(built.request.headers)["Content-Encoding"] == "gzip"
    assert built.request.body[:2] == b"\x1f\x8b"
    assert len(orjson.loads(zlib.decompress(built.request.body, wbits=31))["batch"]) == 5


BIG_LINES = 200_000


def big_ndjson() -> str:
    line = '{"event": "$pageview", "distinct_id": "user-%d", "properties": {"n": %d}}\n'
    return "".join(line % (i, i) for i in range(BIG_LINES))


def big_csv() -> str:
    return "event,distinct_id,prop_n\n" + "".join(f"view,user-{i},{i}\n" for i in range(BIG_LINES))


@pytest.mark.parametrize("file", ["big.ndjson", "big.csv"])
def test_readers_stream_in_constant_memory(tmp_path: Path, file: str) -> None:
    path = tmp_path / file
    path.write_text(big_csv() if file.endswith(".csv") else big_ndjson())
    assert path.stat().st_size > 4_000_000
    with path.open("rb") as binary, path.open(encoding="utf-8", newline="") as text:
        records = csv_records(text) if file.endswith(".csv") else ndjson_records(binary)
        assert isinstance(records, types.GeneratorType)  # a stream, never a list of records
        tracemalloc.start()
        try:
            count = sum(1 for _ in records)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == BIG_LINES
    assert peak < 200_000  # a few records at a time, whatever the file size


def test_a_large_file_is_sent_whole_and_in_order(tmp_path: Path) -> None:
    scenarios = scenario_set(tmp_path, "big.ndjson", big_ndjson(), batch_size=1000)
    replay = scenarios._scenarios[0]
    assert isinstance(replay, ReplayScenario)
    assert isinstance(replay._records, types.GeneratorType)
    expected = 0
    for n in range(1, BIG_LINES // 1000 + 1):
        built = scenarios.build(0, n)
        assert built.events == 1000
        if n % 50 == 0:  # spot checks: file order is kept across requests
            batch = orjson.loads(built.request.body)["batch"]
            assert batch[0]["properties"]["n"] == (n - 1) * 1000
        expected += built.events
    assert expected == BIG_LINES
    with pytest.raises(ReplayExhausted):
        scenarios.build(0, BIG_LINES // 1000 + 1)


def test_ndjson_reader_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_text('{"event": "a", "distinct_id": "u"}\nbroken\n')
    with path.open("rb") as stream:
        records = ndjson_records(stream)
        assert next(records) == (1, {"event": "a", "distinct_id": "u"})
        line, problem = next(records)
        assert line == 2 and isinstance(problem, str) and "invalid JSON" in problem
