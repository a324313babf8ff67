"""`loadgen run` end to end: the real CLI in a subprocess, real loopback sockets, and the
results artifact read back through the schema-validating reader.

The README's main job (profiles/demo.toml, ~31 s) starts in the background when this
module starts and is checked by the last test, so the other runs overlap it instead of
adding to it. Independent short runs inside one test are also started side by side.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen.mock.process import LocalMock
from tests.fault_servers import Reply, reset_mid_response, responder, stall
from tests.run_support import (
    CliResult,
    Running,
    cli,
    profile,
    read_checked,
    refusing_port,
    run_all,
    scenario,
    start,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table

PROGRESS_LINE = re.compile(r"^\[\s*(\d+\.\d)s/(\d+)s\] rate ", re.MULTILINE)


@pytest.fixture(scope="module", autouse=True)
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    out = tmp_path_factory.mktemp("demo") / "demo.json"
    run = start("run", "profiles/demo.toml", "--out", out)
    yield run, out
    run.kill()  # only if a test selection left it unchecked


def _all_2xx(doc: dict[str, Any]) -> None:
    totals = doc["totals"]
    assert totals["status"]["2xx"] == totals["completed"] == totals["sent"] > 0
    assert totals["errors"] == totals["dropped"] == totals["unfinished"] == 0


def _counts_match_the_mock(doc: dict[str, Any]) -> None:
    observed = doc["target"]["observed"]
    assert observed["requests_received"] == observed["requests_answered_by_loadgen"]
    assert observed["requests_received"] == doc["totals"]["completed"]
    assert "no difference" in observed["difference"]


API_MIXES: dict[str, list[dict[str, Any]]] = {
    "posthog": [
        scenario("track", weight=6, events=["$pageview", "clicked"]),
        scenario("identify", kind="identify", weight=2),
        scenario("alias", kind="alias"),
        scenario("batch", kind="batch", batch_size=5),
    ],
    "cio-v1": [
        scenario("identify", "customerio", "identify"),
        scenario("track", "customerio", "track", weight=3),
        scenario("merge", "customerio", "alias"),
    ],
    "cio-v2": [
        scenario("identify", "customerio", "identify", api_version="v2"),
        scenario("track", "customerio", "track", weight=3, api_version="v2"),
        scenario("merge", "customerio", "alias", api_version="v2"),
        scenario("batch", "customerio", "batch", batch_size=4, api_version="v2"),
    ],
    "segment": [
        scenario("identify", "segment", "identify"),
        scenario("track", "segment", "track", weight=3),
        scenario("alias", "segment", "alias"),
        scenario("batch", "segment", "batch", batch_size=4),
    ],
}


def test_every_api_mix_against_the_local_mock(tmp_path: Path) -> None:
    runs = {}
    for name, mix in API_MIXES.items():
        data = profile(
            name,
            stages=[("2s", 15)],
            scenarios=mix,
            users={"count": 200, "skew": 0.5, "ordered": True},
        )
        path = write_profile(tmp_path, data)
        runs[name] = start("run", path, "--out", tmp_path / f"{name}.json", "--quiet")
    results = run_all(list(runs.values()))
    for name, result in zip(runs, results, strict=True):
        assert result.returncode == 0, f"{name}: {result.explain()}"
        doc = read_checked(tmp_path / f"{name}.json")
        assert doc["status"] == "completed", name
        assert doc["totals"]["planned"] == 16, name  # area of 1 -> 15 req/s over 2 s
        _all_2xx(doc)
        _counts_match_the_mock(doc)
        observed = doc["target"]["observed"]
        # every request was 2xx, so the mock accepted each event: batches count batch_size
        sizes = {s["name"]: s.get("batch_size", 1) for s in API_MIXES[name]}
        expected = sum(block["count"] * sizes[s] for s, block in doc["scenarios"].items())
        assert observed["accepted_events"] == expected, name
        assert observed["ordering_violations"] == 0, name
        assert set(observed["by_status"]) == {"200"}, name


def test_out_path_and_default_results_path(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("paths", stages=[("1s", 10)]))
    chosen = tmp_path / "nested" / "mine.json"
    chosen.parent.mkdir()  # an explicit --out's directory must exist (tests/test_run_output.py)
    workdir = tmp_path / "cwd"  # while the default results/ directory is created in it
    workdir.mkdir()
    before = datetime.now(UTC).replace(microsecond=0)
    explicit = start("run", path, "--out", chosen, "--quiet")
    default = start("run", path.resolve(), "--quiet", cwd=workdir)
    results = run_all([explicit, default])
    after = datetime.now(UTC)
    for result in results:
        assert result.returncode == 0, result.explain()
    assert read_checked(chosen)["profile"]["name"] == "paths"
    assert str(chosen) in results[0].stdout
    written = list((workdir / "results").iterdir())
    assert len(written) == 1, written
    match = re.fullmatch(r"paths-(\d{8}T\d{6}Z)\.json", written[0].name)
    assert match, written[0].name
    stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= after
    assert read_checked(written[0])["status"] == "completed"
    assert "results/" + written[0].name in results[1].stdout


def test_plain_progress_every_5s_off_a_terminal_and_none_with_quiet(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("progress", stages=[("6s", 5)]))
    plain = start("run", path, "--out", tmp_path / "plain.json")
    quiet = start("run", path, "--out", tmp_path / "quiet.json", "--quiet")
    shown, silent = run_all([plain, quiet])
    assert shown.returncode == 0 and silent.returncode == 0, shown.explain() + silent.explain()
    lines = PROGRESS_LINE.findall(shown.stderr)
    # a 6 s schedule with a line every 5 s: exactly one, at 5 s, with the schedule's length
    assert len(lines) == 1, shown.stderr
    assert 4.9 <= float(lines[0][0]) < 6.0 and lines[0][1] == "6"
    assert "in_flight" in shown.stderr and "p50/p95/p99" in shown.stderr
    assert not PROGRESS_LINE.search(silent.stderr + silent.stdout), silent.stderr
    assert "status: completed" in silent.stdout  # --quiet keeps the summary


def _fault_targets(tmp_path: Path, urls: dict[str, str]) -> None:
    # Transport errors count as failures for the safety stop; ratio 1 never trips it, so
    # these runs show the errors being counted rather than the stop (tested elsewhere).
    tables = {name: target_table(url, safety_error_ratio=1) for name, url in urls.items()}
    write_targets(tmp_path, **tables)


def test_down_resetting_and_stalled_targets_are_counted_by_kind(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("faults", stages=[("2s", 10)], timeout="500ms"))
    with refusing_port() as port, reset_mid_response() as resets, stall() as stalls:
        _fault_targets(
            tmp_path,
            {"down": f"http://127.0.0.1:{port}", "resets": resets.url, "stalls": stalls.url},
        )
        runs = [
            start("run", path, "-t", name, "--out", tmp_path / f"{name}.json", "--quiet")
            for name in ("down", "resets", "stalls")
        ]
        results = run_all(runs)
        resets_seen, stalls_seen = resets.requests_seen, stalls.requests_seen
    for result in results:
        assert result.returncode == 0, result.explain()
        assert "Traceback" not in result.stderr
    docs = {name: read_checked(tmp_path / f"{name}.json") for name in ("down", "resets", "stalls")}
    for name, kind in (("down", "refused"), ("resets", "reset"), ("stalls", "timeout")):
        totals = docs[name]["totals"]
        assert docs[name]["status"] == "completed", name
        assert totals["planned"] == totals["sent"] == 11, name  # area of 1 -> 10 over 2 s
        assert totals["errors_by_kind"][kind] == totals["errors"] == totals["sent"], name
        assert totals["completed"] == 0, name
    assert resets_seen == docs["resets"]["totals"]["sent"]
    assert stalls_seen == docs["stalls"]["totals"]["sent"]
    service = docs["stalls"]["scenarios"]["track"]["service_ms"]
    # each stalled request gave up after the profile's 500 ms, not the 10 s default
    assert service["min"] >= 490 and service["max"] < 2000, service


def test_more_in_flight_than_connections_waits_in_line_and_loses_nothing(tmp_path: Path) -> None:
    # 2 connections to a server taking 60 ms serve ~33 req/s; at 40 req/s requests find
    # both busy and wait in the transport's line, which grows through the 2 s run.
    path = write_profile(
        tmp_path, profile("line", start_rate=40, stages=[("2s", 40)], max_in_flight=50)
    )
    with responder(Reply(delay_s=0.06)) as server:
        # a flat profile is a spike to the guard unless the target says otherwise
        table = target_table(
            server.url, safety_error_ratio=1, spike_floor_rps=1000, max_start_fraction=1
        )
        write_targets(tmp_path, slow={**table, "max_connections": 2})
        result = cli("run", path, "-t", "slow", "--out", tmp_path / "line.json", "--quiet")
        seen, connections = server.requests_seen, server.connections_accepted
    assert result.returncode == 0, result.explain()
    doc = read_checked(tmp_path / "line.json")
    totals = doc["totals"]
    assert totals["planned"] == totals["sent"] == totals["completed"] == seen == 80
    assert totals["dropped"] == totals["errors"] == 0
    assert connections == 2
    track = doc["scenarios"]["track"]
    # service time is the server's 60 ms; latency from the planned start adds the line
    assert 55 <= track["service_ms"]["p50"] < 200, track["service_ms"]
    assert track["latency_ms"]["max"] > track["service_ms"]["max"] + 20, track


def _replay_lines(users: int) -> list[dict[str, Any]]:
    """Per user: a track, an identify, the alias that depends on it, another track."""
    lines: list[dict[str, Any]] = []
    for i in range(users):
        user = f"replay-user-{i}"
        lines += [
            {"event": f"replay-{i}-first", "distinct_id": f"anon-{i}"},
            {
                "event": "$identify",
                "distinct_id": user,
                "properties": {"$anon_distinct_id": f"anon-{i}"},
            },
            {"event": "$create_alias", "distinct_id": user, "properties": {"alias": f"alias-{i}"}},
            {"event": f"replay-{i}-last", "distinct_id": user},
        ]
    return lines


@dataclass(frozen=True, slots=True)
class Replayed:
    records: list[dict[str, Any]]
    result: CliResult
    doc: dict[str, Any]
    stats: dict[str, Any]  # the mock's own counters after the run


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """A 40-record NDJSON file replayed against a mock the test owns (to read its counts)."""
    tmp = tmp_path_factory.mktemp("replay")
    records = _replay_lines(10)
    (tmp / "events.ndjson").write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    replay = scenario("import", replay={"file": "events.ndjson"})
    # the schedule would plan ~620 requests over 32 s: the 40-record file ends it early
    data = profile("replay", stages=[("2s", 20), ("30s", 20)], scenarios=[replay])
    path = write_profile(tmp, data)
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp, mock=target_table(mock.url))
        result = cli("run", path, "-t", "mock", "--out", tmp / "r.json", "--quiet")
        stats = mock.stats()
    assert result.returncode == 0, result.explain()
    return Replayed(records, result, read_checked(tmp / "r.json"), stats)


def test_replay_sends_the_file_in_order_and_ends_with_it(replayed: Replayed) -> None:
    doc, records = replayed.doc, replayed.records
    assert doc["status"] == "completed"
    assert "end of its input" in (doc["status_reason"] or "")
    assert doc["duration_s"] < 15  # ended with the file, not the 32 s schedule
    _all_2xx(doc)
    assert doc["totals"]["sent"] == len(records)
    posthog = replayed.stats["apis"]["posthog"]
    assert replayed.stats["requests_total"] == posthog["events"] == len(records)
    names = posthog["event_names"]
    assert names.pop("$identify") == names.pop("$create_alias") == 10
    assert names == {r["event"]: 1 for r in records if not r["event"].startswith("$")}
    # each alias follows its identify in the file: sent out of order, the mock would count it
    assert posthog["ordering_violations"] == 0


def test_replay_plans_exactly_the_records_it_sends(replayed: Replayed) -> None:
    totals = replayed.doc["totals"]
    assert totals["planned"] == totals["sent"] + totals["dropped"] == len(replayed.records)


def _replay_with_a_bad_third_line(tmp_path: Path, on_error: str) -> Path:
    """A profile replaying 4 good NDJSON records with a broken one as line 3."""
    good = [orjson.dumps({"event": "ok", "distinct_id": f"u{i}"}) for i in range(4)]
    lines = [*good[:2], b'{"event": "broken", ', *good[2:]]
    (tmp_path / "events.ndjson").write_bytes(b"\n".join(lines))
    replay = scenario("import", replay={"file": "events.ndjson", "on_error": on_error})
    data = profile(f"replay{on_error}", stages=[("2s", 10)], scenarios=[replay])
    return write_profile(tmp_path, data)


def test_replay_malformed_line_fails_naming_the_line(tmp_path: Path) -> None:
    path = _replay_with_a_bad_third_line(tmp_path, "fail")
    result = cli("run", path, "--out", tmp_path / "bad.json", "--quiet")
    assert result.returncode == 3, result.explain()
    assert "events.ndjson:3: malformed record" in result.stderr
    assert "Traceback" not in result.stderr
    doc = read_checked(tmp_path / "bad.json")
    assert doc["status"] == "aborted"
    assert "events.ndjson:3" in (doc["status_reason"] or "")
    assert doc["totals"]["sent"] == 2  # the records before the bad line went out


def test_replay_skip_mode_counts_the_malformed_line_and_goes_on(tmp_path: Path) -> None:
    path = _replay_with_a_bad_third_line(tmp_path, "skip")
    result = cli("run", path, "--out", tmp_path / "skip.json", "--quiet")
    assert result.returncode == 0, result.explain()
    doc = read_checked(tmp_path / "skip.json")
    assert doc["totals"]["sent"] == 4  # every good record, the bad one skipped
    assert doc["run"]["replay_skipped"] == {"import": 1}


def test_dry_run_prints_plan_and_verdict_and_sends_nothing(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("dry", stages=[("2s", 10)]))
    out = tmp_path / "dry.json"
    with responder(Reply()) as server:
        write_targets(tmp_path, srv=target_table(server.url))
        result = cli("run", path, "-t", "srv", "--dry-run", "--out", out)
        assert server.connections_accepted == server.requests_seen == 0
    assert result.returncode == 0, result.explain()
    assert "total requests" in result.stdout and "peak rate" in result.stdout
    assert "guard: ok; approval:" in result.stdout
    assert not out.exists()


def test_demo_profile_matches_the_mock_exactly(demo_run: tuple[Running, Path]) -> None:
    run, out = demo_run
    result = run.finish(timeout=120)
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    assert doc["profile"]["path"] == "profiles/demo.toml"
    assert doc["status"] == "completed"
    totals = doc["totals"]
    # area under 1 -> 50 over 10 s (255), 50 for 15 s (750), 50 -> 0 over 5 s (125)
    assert totals["planned"] == totals["sent"] == totals["completed"] == 1130
    assert totals["dropped"] == 0
    _all_2xx(doc)
    _counts_match_the_mock(doc)
    assert doc["target"]["observed"]["ordering_violations"] == 0  # users.ordered = true
    assert f"results: {out}" in result.stdout
    # Not a speed check: the mock answers in about a millisecond, so a p95 in the
    # hundreds of ms means requests queued inside loadgen (a rate cap equal to the plan
    # once did that, adding every scheduling hiccup to all later requests).
    assert doc["scenarios"]["pageviews"]["latency_ms"]["p95"] < 500
