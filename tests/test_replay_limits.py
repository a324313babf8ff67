"""Replay files are bounded: a record longer than MAX_RECORD_BYTES is malformed (fail stops
with file and line, skip skips and counts) and costs constant memory; a FIFO or /dev/zero
is refused; `run --dry-run` checks every replay file before anything is sent."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from loadgen.arrivals.plan import Plan
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL
from loadgen.scenarios import ReplayError, ScenarioSet
from loadgen.scenarios.replay import (
    MAX_RECORD_BYTES,
    bounded_lines,
    check_replay_files,
    csv_records,
    ndjson_records,
)
from tests.test_scenarios_replay import CREDENTIALS, PROFILE, drain, scenario_set

GOOD_NDJSON = '{"event": "a", "distinct_id": "u"}\n'
GOOD_CSV_ROW = "a,u\n"
LONG = "x" * (MAX_RECORD_BYTES + 1)

# (why, file name, content, line of the over-long record)
OVER_LONG = [
    (
        "an NDJSON line one byte over the cap, between good ones",
        "e.ndjson",
        GOOD_NDJSON + '{"event": "' + LONG + '"}\n' + GOOD_NDJSON,
        2,
    ),
    (
        "an over-long last NDJSON line without a newline",
        "e.ndjson",
        GOOD_NDJSON * 2 + LONG,
        3,
    ),
    (
        "a CSV row over the cap, between good rows",
        "e.csv",
        "event,distinct_id\n" + GOOD_CSV_ROW + LONG + ",u\n" + GOOD_CSV_ROW,
        3,
    ),
]


@pytest.mark.parametrize(
    ("file", "content", "line"), [c[1:] for c in OVER_LONG], ids=[c[0] for c in OVER_LONG]
)
def test_an_over_long_record_fails_with_file_and_line(
    tmp_path: Path, file: str, content: str, line: int
) -> None:
    scenarios = scenario_set(tmp_path, file, content, kind="track", batch_size=1)
    with pytest.raises(ReplayError, match=rf"{file}:{line}: malformed record: record longer"):
        drain(scenarios)


@pytest.mark.parametrize(
    ("file", "content", "line"), [c[1:] for c in OVER_LONG], ids=[c[0] for c in OVER_LONG]
)
def test_an_over_long_record_is_skipped_and_counted(
    tmp_path: Path, file: str, content: str, line: int
) -> None:
    scenarios = scenario_set(tmp_path, file, content, kind="track", batch_size=1, on_error="skip")
    assert len(drain(scenarios)) == 2  # the good records on both sides of it
    assert scenarios.replay_skipped == {"import": 1}


# (why, line content, what bounded_lines yields for it)
LINE_CASES = [
    ("exactly the cap plus its newline is a whole line", b"y" * 8 + b"\n", [b"y" * 8 + b"\n"]),
    ("one byte over the cap is dropped", b"y" * 9 + b"\n", [None]),
    ("far over the cap: dropped in chunks, once", b"y" * 100 + b"\n", [None]),
    ("the last line without a newline at the cap", b"y" * 8, [b"y" * 8]),
    ("over the cap without a newline", b"y" * 9, [None]),
]


@pytest.mark.parametrize(
    ("line", "expected"), [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES]
)
def test_bounded_lines_at_the_cap(line: bytes, expected: list[bytes | None]) -> None:
    after = [b"next\n"] if line.endswith(b"\n") else []  # an unterminated line ends the file
    stream = io.BytesIO(line + b"".join(after))
    assert list(bounded_lines(stream, 8, (b"\n",))) == [*expected, *after]


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_a_huge_line_costs_constant_memory(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"huge.{fmt}"
    with path.open("wb") as out:
        out.write(b"event,distinct_id\n" if fmt == "csv" else b"")
        for _ in range(20):  # a 20 MiB line: 20 times the cap
            out.write(b"z" * (1024 * 1024))
        out.write(b"\n" + (b"a,u\n" if fmt == "csv" else GOOD_NDJSON.encode()))
    with path.open("rb") as binary, path.open(encoding="utf-8", newline="") as text:
        tracemalloc.start()
        try:
            records = list(csv_records(text) if fmt == "csv" else ndjson_records(binary))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert records[0][1] == "record longer than 1,024 KiB (the cap per record)"
    assert isinstance(records[1][1], dict)  # reading goes on after it
    assert peak < 6 * MAX_RECORD_BYTES  # about one chunk at a time, not the 20 MiB line


def special(tmp: Path, kind: str) -> None:
    target = tmp / "data" / "e.ndjson"
    target.parent.mkdir(exist_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    elif kind == "directory":
        target.mkdir()


def write_profile(tmp: Path) -> Path:
    path = tmp / "data" / "replay.toml"
    path.parent.mkdir(exist_ok=True)
    text = PROFILE.format(
        api="posthog",
        kind="batch",
        batch_size=2,
        gzip="false",
        extra="",
        file="e.ndjson",
        on_error="fail",
    )
    path.write_text("apps_enabled = false\n" + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("fifo", "not a regular file"),  # would block, then stream forever
        ("dev-zero", "not a regular file"),  # would grow until MemoryError
        ("directory", "is a directory"),
        ("missing", "not found"),
    ],
)
def test_a_replay_file_that_is_not_a_regular_file_is_refused(
    tmp_path: Path, kind: str, words: str
) -> None:
    special(tmp_path, kind)
    profile = load_profile(write_profile(tmp_path))
    with pytest.raises(ReplayError, match=words):
        ScenarioSet(Plan.build(profile, BUILTIN_LOCAL), CREDENTIALS)
    problems = check_replay_files(profile)
    assert [(p.path, p.line, p.value) for p in problems] == [
        ("scenarios[0].replay.file", 15, "e.ndjson")  # the line of `replay = {...}`
    ]
    assert words in problems[0].message


def test_check_replay_files_accepts_a_regular_file(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path))
    (tmp_path / "data" / "e.ndjson").write_text(GOOD_NDJSON, encoding="utf-8")
    assert check_replay_files(profile) == []


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "missing"])
def test_dry_run_reports_a_bad_replay_file_with_exit_3(tmp_path: Path, kind: str) -> None:
    special(tmp_path, kind)
    write_profile(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "loadgen", "run", "data/replay.toml", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "data/replay.toml:15: scenarios[0].replay.file:" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Plan for" not in result.stdout  # refused before the plan is shown
