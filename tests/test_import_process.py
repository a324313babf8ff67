"""`loadgen import` end to end: real processes, a real `loadgen serve`, real kills.

The acceptance test of issue 13: 100,000 records with a few invalid ones, the importer
SIGKILLed at 3 random moments and resumed each time; then the mock, counting event ids,
must show every valid record accepted exactly once after deduplication, at most the
in-flight batches sent twice, 0 ordering violations, the busiest 1 s under the cap; the
dead-letter file must hold exactly the invalid records.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen.mock.process import LocalMock
from tests.run_support import (
    Running,
    cli,
    profile,
    scenario,
    start,
    target,
    write_profile,
    write_targets,
)

pytestmark = pytest.mark.timeout(180)

BATCH = 100
CONCURRENCY = 4
INVALID = {  # line -> what makes it invalid
    1_234: b"{not json\n",
    20_000: b"[1, 2, 3]\n",
    55_555: b'{"event": "pageview", "properties": {}}\n',  # no distinct_id
    99_990: b'{"event": "", "distinct_id": "u1"}\n',  # an empty event name
}


def write_events(path: Path, count: int, users: int, seed: int = 13) -> int:
    """`count` records (lines 1..count): each user is identified, then aliased, then
    tracked; a third carry no uuid (the importer derives one). Returns the valid count."""
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    with open(path, "wb") as out:
        for line in range(1, count + 1):
            if line in INVALID:
                out.write(INVALID[line])
                continue
            user = f"user-{rng.randrange(users)}"
            step = seen.get(user, 0)
            seen[user] = step + 1
            record: dict[str, Any] = {"distinct_id": user, "timestamp": 1_700_000_000 + line}
            if step == 0:
                record |= {"event": "$identify", "$set": {"plan": "free"}}
            elif step == 1:
                record |= {"event": "$create_alias", "properties": {"alias": f"alias-{user}"}}
            else:
                record |= {"event": "pageview", "properties": {"n": line}}
            if line % 3:
                record["uuid"] = f"00000000-0000-4000-8000-{line:012d}"
            out.write(orjson.dumps(record) + b"\n")
    return count - sum(1 for line in INVALID if line <= count)


def import_args(events: Path, *extra: str) -> list[str]:
    return ["import", str(events), "--target", "imp", "--quiet", *extra]


def wait_for_accepted(
    mock: LocalMock, at_least: int, running: Running, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while mock.stats()["events_accepted"] < at_least:
        if running.proc.poll() is not None:
            raise AssertionError(running.finish().explain())
        assert time.monotonic() < deadline, "the importer sent too little"
        time.sleep(0.02)


def dead_lines(path: Path) -> list[int]:
    return [orjson.loads(raw)["line"] for raw in path.read_bytes().splitlines()]


def test_killed_three_times_and_resumed_every_valid_record_once(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    valid = write_events(events, 100_000, users=5_000)
    cap = 1000
    with LocalMock(rps_limit=0) as mock:
        # a steep ramp is allowed on this target: the test is about kills, not the ramp
        steep = target(mock.url, workspace_rps_limit=cap, max_slope_rps_per_s=cap)
        write_targets(tmp_path, imp=steep)
        rng = random.Random(2026)
        moments = sorted(rng.uniform(0.1, 0.85) for _ in range(3))
        args = import_args(events, "--rate", str(cap), "--ramp", "1", "--concurrency", "4")
        for number, moment in enumerate(moments):
            running = start(*args, *(["--resume"] if number else []), cwd=tmp_path)
            wait_for_accepted(mock, int(valid * moment), running)
            running.kill()  # SIGKILL: no handler, no last checkpoint
            running.finish()
        final = cli(*args, "--resume", cwd=tmp_path, timeout=120)
        assert final.returncode == 0, final.explain()
        stats = mock.stats()
    # every valid record accepted, once after deduplication; resent: only what was in flight
    assert stats["event_ids_exact"]
    assert stats["events_unique"] == valid
    assert stats["duplicate_event_ids"] <= 3 * CONCURRENCY * BATCH
    assert stats["events_accepted"] == valid + stats["duplicate_event_ids"]
    assert stats["ordering_violations"] == 0
    assert stats["busiest_1s_requests"] <= cap
    # the dead-letter file holds exactly the invalid records, each once
    assert dead_lines(tmp_path / "events.ndjson.dead-letter.ndjson") == sorted(INVALID)
    doc = orjson.loads((tmp_path / "events.ndjson.import.json").read_bytes())
    assert doc["status"] == "complete"
    assert doc["sessions"] == 4
    assert doc["records"] == {
        "read": 100_000,
        "accepted": valid,
        "dead_lettered": len(INVALID),
        "skipped": 0,
    }
    assert doc["balanced"]


def test_the_server_never_sees_more_than_the_cap_retries_included(tmp_path: Path) -> None:
    """20 req/s against a mock limited to 12: many 429s, each retried through the same
    limiter; the busiest 1 s the mock saw stays at or under 20."""
    events = tmp_path / "events.ndjson"
    valid = write_events(events, 800, users=200)
    with LocalMock(rps_limit=12) as mock:
        write_targets(tmp_path, imp=target(mock.url, workspace_rps_limit=20))
        args = import_args(events, "--rate", "20", "--ramp", "2", "--batch-size", "10")
        result = cli(*args, "--concurrency", "8", cwd=tmp_path, timeout=120)
        stats = mock.stats()
    assert result.returncode == 0, result.explain()
    doc = orjson.loads((tmp_path / "events.ndjson.import.json").read_bytes())
    assert doc["rate_limited"] > 0 and doc["retries"] >= doc["rate_limited"]
    assert stats["busiest_1s_requests"] <= 20
    assert stats["events_unique"] == valid == doc["records"]["accepted"]
    assert stats["ordering_violations"] == 0


def test_sigterm_stops_checkpoints_and_exits_130_then_resume_finishes(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    valid = write_events(events, 3_000, users=300)
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, imp=target(mock.url, workspace_rps_limit=10))
        args = import_args(events, "--rate", "10", "--batch-size", "50")
        running = start(*args, cwd=tmp_path)
        wait_for_accepted(mock, 100, running)
        running.send(__import__("signal").SIGTERM)
        stopped = running.finish()
        assert stopped.returncode == 130, stopped.explain()
        interrupted = orjson.loads((tmp_path / "events.ndjson.import.json").read_bytes())
        assert interrupted["status"] == "interrupted" and interrupted["balanced"]
        done = cli(*args, "--resume", cwd=tmp_path, timeout=120)
        stats = mock.stats()
    assert done.returncode == 0, done.explain()
    assert stats["events_unique"] == valid
    assert stats["duplicate_event_ids"] == 0  # a graceful stop waits for what is in flight


def test_a_fresh_import_refuses_to_overwrite_a_started_one(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    write_events(events, 10, users=5)
    (tmp_path / "events.ndjson.checkpoint.json").write_text("{}")
    write_targets(tmp_path, imp=target("http://127.0.0.1:9", workspace_rps_limit=10))
    result = cli(*import_args(events), cwd=tmp_path)
    assert result.returncode == 3, result.explain()
    assert "--resume" in result.stderr and "Traceback" not in result.stderr


def test_a_rate_above_the_workspace_limit_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    write_events(events, 10, users=5)
    write_targets(tmp_path, imp=target("http://127.0.0.1:9", workspace_rps_limit=100))
    result = cli(*import_args(events, "--rate", "500"), cwd=tmp_path)
    assert result.returncode == 4, result.explain()
    assert "workspace limit" in result.stderr


def test_with_a_profile_the_guard_refuses_an_unapproved_peak(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    write_events(events, 10, users=5)
    write_targets(tmp_path, imp=target("http://127.0.0.1:9", workspace_rps_limit=100))
    peak = profile("hot", start_rate=10, stages=[("60s", 300)])  # 3x the workspace limit
    result = cli(
        *import_args(events, "--profile", str(write_profile(tmp_path, peak))), cwd=tmp_path
    )
    assert result.returncode == 4, result.explain()
    assert "refused" in result.stderr and "Traceback" not in result.stderr


def test_with_a_profile_the_rate_follows_its_stages(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    valid = write_events(events, 400, users=50)
    batch = scenario("import", kind="batch", batch_size=20, historical=True)
    gentle = profile("gentle", start_rate=2, stages=[("2s", 20)], scenarios=[batch])
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, imp=target(mock.url, workspace_rps_limit=100))
        args = import_args(events, "--profile", str(write_profile(tmp_path, gentle)))
        result = cli(*args, cwd=tmp_path)
        stats = mock.stats()
    assert result.returncode == 0, result.explain()
    assert stats["events_unique"] == valid
    assert stats["apis"]["posthog"]["historical_events"] == valid  # historical_migration
    assert stats["busiest_1s_requests"] <= 20  # the profile's peak, not the workspace's


def test_segment_and_csv_imports_are_deduplicated_on_their_message_ids(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    rows = ["event,distinct_id,timestamp,properties.n"]
    rows += [f"Viewed,user-{i % 7},2024-01-01T00:00:{i % 60:02d}Z,{i}" for i in range(300)]
    rows.insert(100, "Viewed")  # a row with a missing field: dead-lettered
    events.write_text("\n".join(rows) + "\n")
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, imp=target(mock.url, api="segment", workspace_rps_limit=10))
        args = import_args(events, "--rate", "10", "--batch-size", "25")
        first = start(*args, cwd=tmp_path)
        wait_for_accepted(mock, 100, first)
        first.kill()
        first.finish()
        done = cli(*args, "--resume", cwd=tmp_path)
        stats = mock.stats()
    assert done.returncode == 0, done.explain()
    assert stats["apis"]["segment"]["events"] >= 300
    assert stats["events_unique"] == 300
    assert stats["ordering_violations"] == 0
    assert dead_lines(tmp_path / "events.csv.dead-letter.ndjson") == [101]


def test_refused_credentials_stop_the_import_with_nothing_dead_lettered(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    write_events(events, 200, users=20)
    with LocalMock(rps_limit=0, accepted_keys=frozenset({"another-token"})) as mock:
        write_targets(tmp_path, imp=target(mock.url, workspace_rps_limit=10))
        result = cli(*import_args(events, "--rate", "10"), cwd=tmp_path)
    assert result.returncode == 5, result.explain()
    assert "401" in result.stderr and "Traceback" not in result.stderr
    doc = orjson.loads((tmp_path / "events.ndjson.import.json").read_bytes())
    assert doc["status"] == "stopped" and doc["records"]["dead_lettered"] == 0


def test_customerio_entities_refused_inside_a_207_batch_are_dead_lettered(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.ndjson"
    good = [{"event": "Viewed", "distinct_id": f"c{i}"} for i in range(30)]
    # a v2 entity the mock refuses inside the batch: attributes must be an object
    bad = {"type": "person", "action": "identify", "identifiers": {"id": "c99"}, "attributes": 7}
    lines = [orjson.dumps(r) for r in [*good[:10], bad, *good[10:]]]
    events.write_bytes(b"\n".join(lines) + b"\n")
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, imp=target(mock.url, api="customerio", workspace_rps_limit=10))
        result = cli(*import_args(events, "--rate", "10", "--batch-size", "8"), cwd=tmp_path)
        stats = mock.stats()
    assert result.returncode == 0, result.explain()
    assert stats["apis"]["customerio"]["rejected_events"] == 1
    entries = [
        orjson.loads(r)
        for r in (tmp_path / "events.ndjson.dead-letter.ndjson").read_bytes().splitlines()
    ]
    assert [(e["line"], e["reason"]) for e in entries] == [(11, "rejected inside the batch (207)")]
    assert "attributes" in entries[0]["answer"]
    doc = orjson.loads((tmp_path / "events.ndjson.import.json").read_bytes())
    assert doc["records"]["accepted"] == 30 and doc["balanced"]
