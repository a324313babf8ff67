"""`loadgen brief --import EVENTS` as users run it (a real process): the numbers of a
generated 50,000-record file, and bad input turned into clear errors, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from loadgen.errors import ExitCode
from tests.run_support import cli, target, write_targets

START = 1_767_225_600  # 2026-01-01T00:00:00Z
USERS = 1000  # u0 .. u999, 45 events each
WHALE = 5000  # one distinct_id with 10 % of the events: above the overflow threshold
BAD_LINES = (7, 20_000, 50_003)  # where the three invalid records go (1-based lines)


def generated(path: Path) -> Path:
    """50,000 valid records (5,000 of `whale`, 45 for each of 1,000 users: an identify,
    then one alias for every second user, then pageviews) and 3 invalid ones."""
    records: list[str] = []
    for i in range(45 * USERS):
        user = i % USERS
        event = "pageview"
        props: dict[str, object] = {"path": "/"}
        if i < USERS:
            event = "$identify"
        elif i < USERS + USERS // 2:
            event, props = "$create_alias", {"alias": f"anon{user}"}
        records.append(json.dumps({"event": event, "distinct_id": f"u{user}", "properties": props}))
    for _ in range(WHALE):
        records.append(json.dumps({"event": "pageview", "distinct_id": "whale", "properties": {}}))
    stamped = [
        line[:-1] + f', "timestamp": {START + n}}}' for n, line in enumerate(records)
    ]  # one second apart, in file order
    for line in BAD_LINES:
        stamped.insert(line - 1, '{"event": "broken"')
    path.write_text("\n".join(stamped) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated(tmp_path_factory.mktemp("import") / "events.ndjson")


def test_json_numbers_of_a_generated_file(events: Path) -> None:
    done = cli("brief", "--import", events, "--target", "local", "--json", cwd=events.parent)
    assert done.returncode == 0, done.explain()
    data = json.loads(done.stdout)
    assert data["version"] == "loadgen.import-brief/1"
    assert (data["records"], data["malformed"]) == (50_000, 3)
    assert [m["line"] for m in data["malformed_shown"]] == list(BAD_LINES)
    assert data["distinct_ids"] == USERS + 1 and data["distinct_ids_exact"] is True
    top = data["top_distinct_ids"]
    assert len(top) == 100  # the handbook's limit 100
    assert top[0] == {"distinct_id": "whale", "events": WHALE}
    assert all(row["events"] == 45 for row in top[1:])
    assert data["events"] == {"pageview": 48_500, "$identify": 1000, "$create_alias": 500}
    assert data["categories"] == {"identify": 1000, "alias": 500, "event": 48_500}
    assert (data["first_timestamp"], data["last_timestamp"]) == (START, START + 49_999)
    assert data["file"]["bytes"] == events.stat().st_size
    # local takes every API: 100 req/s x 100 records = 10,000 events/s, 500 requests, 5 s
    assert {b["api"] for b in data["batching"]} == {"posthog", "customerio", "segment"}
    for row in data["batching"]:
        assert (row["batch_size"], row["requests"], row["duration_s"]) == (100, 500, 5.0)
    # The whale's 5,000 events close the file: sent in file order at 10,000 events/s they
    # all fall in one second (its mean, 1,000 events/s, is above 100 too); a user's 45
    # events, spread over the file, never reach 100 in a second.
    assert data["hot_distinct_ids"] == [
        {"distinct_id": "whale", "events": WHALE, "busiest_second": WHALE}
    ]
    assert data["needs_approval"] is False


def test_markdown_to_a_file_against_a_segment_target(events: Path) -> None:
    write_targets(events.parent, seg=target("https://127.0.0.1:9", api="segment"))
    out = events.parent / "brief.md"
    done = cli(
        "brief", "--import", events, "-t", "seg", "--rate", "50", "--batch-size", "5000",
        "--out", out, cwd=events.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.explain()
    assert "brief written to" in done.stderr
    text = out.read_text(encoding="utf-8")
    for section in (
        "# Heads-up: historical import of `events.ndjson` into `seg`",
        "## Volume and time span",
        "## Batching and expected duration",
        "## Event types",
        "## distinct_id variance",
        "## Hot distinct_ids (ordering)",
        "## Malformed records",
    ):
        assert section in text
    # Segment caps a batch at 2,500: 20 requests at 50 req/s = 400 ms
    assert "| Segment | 2500 (Segment caps a batch at 2500) |" in text
    assert "| 20 | 125,000 | 400ms |" in text
    assert "2026-01-01 00:00:00 UTC to 2026-01-01 13:53:19 UTC" in text
    assert "Identifies: 1,000; aliases" in text and "| 1 | whale | 5,000 | 10.000% |" in text
    assert f"events.ndjson:{BAD_LINES[0]}: invalid JSON" in text


def test_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    rows = "".join(f"e{i % 3},u{i % 7},{START + i}\n" for i in range(70))
    path.write_text("event,distinct_id,timestamp\n" + rows, encoding="utf-8")
    done = cli("brief", "--import", path, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.explain()
    data = json.loads(done.stdout)
    assert (data["file"]["format"], data["records"], data["distinct_ids"]) == ("csv", 70, 7)


def huge_line(path: Path, valid_first: bool) -> Path:
    head = '{"event": "e", "distinct_id": "u"}\n' if valid_first else ""
    path.write_text(head + '{"event": "' + "x" * (2 * 1024 * 1024) + '"}\n', encoding="utf-8")
    return path


def test_a_huge_line_is_a_malformed_record(tmp_path: Path) -> None:
    path = huge_line(tmp_path / "e.ndjson", valid_first=True)
    done = cli("brief", "--import", path, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.explain()
    data = json.loads(done.stdout)
    assert data["records"] == 1 and data["malformed_shown"][0]["line"] == 2
    assert "longer than 1,024 KiB" in data["malformed_shown"][0]["why"]


@pytest.mark.parametrize(
    ("make", "args", "code", "message"),
    [
        # a file that is not there
        (None, ("--import", "missing.ndjson"), ExitCode.INVALID_INPUT, "import file not found"),
        # random bytes: no record can be read, and the message says what to check
        ("garbage", ("--import", "garbage.ndjson"), ExitCode.INVALID_INPUT, "is usable"),
        # one line of 2 MiB and nothing else
        ("huge", ("--import", "huge.ndjson"), ExitCode.INVALID_INPUT, "longer than 1,024 KiB"),
        # an empty file: nothing to import
        ("empty", ("--import", "empty.ndjson"), ExitCode.INVALID_INPUT, "holds no records"),
        # a device is not a file (and would never end)
        (None, ("--import", "/dev/zero"), ExitCode.INVALID_INPUT, "not a regular file"),
        # an unknown --format
        ("empty", ("--import", "empty.ndjson", "--format", "xml"), ExitCode.USAGE, "ndjson or csv"),
        # a batch of 0
        (
            "empty",
            ("--import", "empty.ndjson", "--batch-size", "0"),
            ExitCode.USAGE,
            "--batch-size 0",
        ),
        # neither a profile nor --import
        (None, (), ExitCode.USAGE, "give a PROFILE or --import EVENTS"),
        # both
        ("profile", ("p.toml", "--import", "empty.ndjson"), ExitCode.USAGE, "one of them"),
        # --rate belongs to --import
        ("profile", ("p.toml", "--rate", "5"), ExitCode.USAGE, "go with --import"),
        # a target the targets file does not name
        (
            "empty",
            ("--import", "empty.ndjson", "-t", "nope"),
            ExitCode.INVALID_INPUT,
            "unknown target",
        ),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, make: str | None, args: tuple[str, ...], code: ExitCode, message: str
) -> None:
    if make == "garbage":
        (tmp_path / "garbage.ndjson").write_bytes(os.urandom(64 * 1024).replace(b"\n", b"\x00"))
    elif make == "huge":
        huge_line(tmp_path / "huge.ndjson", valid_first=False)
    elif make in ("empty", "profile"):
        (tmp_path / "empty.ndjson").write_text("", encoding="utf-8")
        (tmp_path / "p.toml").write_text('name = "p"\n', encoding="utf-8")  # never read
    done = cli("brief", *args, cwd=tmp_path)
    assert done.returncode == code, done.explain()
    assert message in done.stderr, done.explain()
    assert "Traceback" not in done.stderr


def test_brief_import_imports_no_engine_transport_rich_jsonschema_or_cryptography(
    tmp_path: Path, events: Path
) -> None:
    from tests.test_startup_imports import LOADGEN_NOT_FOR_LINT, NOT_FOR_LINT, loaded_by, offending

    code, modules = loaded_by(tmp_path, "brief", "--import", str(events), "--json")
    assert code == 0
    assert "loadgen.guard.import_scan" in modules  # the probe ran the import brief
    assert offending(modules, NOT_FOR_LINT) == []
    assert offending(modules, LOADGEN_NOT_FOR_LINT) == []
