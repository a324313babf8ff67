"""The import benchmark's pure pieces (scripts/bench_import.py): the record generator,
the file sizing, the RSS-at-a-fraction reader, the artifact's duration and the checkpoint
offset reader. Nothing is timed here and no benchmark runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_import as bi  # the scripts directory is not a package
import benchlib as b


def test_records_have_distinct_uuids_and_cycle_their_distinct_ids(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    size = bi.write_records(path, 5000, users=300)
    lines = path.read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    assert size == path.stat().st_size and len(records) == 5000
    assert len({r["uuid"] for r in records}) == 5000
    assert len({r["distinct_id"] for r in records}) == 300
    assert all(r["event"] == "$pageview" and r["properties"]["plan"] == "pro" for r in records)


@given(st.integers(0, 10**11), st.integers(1, 10**8))
def test_every_record_is_one_json_line_of_one_length(index: int, users: int) -> None:
    line = bi.record_line(index, users)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = orjson.loads(line)
    assert record["distinct_id"] == f"user-{index % users:09d}"
    assert record["uuid"].endswith(f"{index:012x}")
    # one length for every line is what records_for_size relies on
    assert len(line) == len(bi.record_line(0, 1))


@given(st.integers(1, 10**10))
def test_records_for_size_reaches_the_size_with_the_fewest_records(size: int) -> None:
    count = bi.records_for_size(size, users=1000)
    length = len(bi.record_line(0, 1000))
    assert count * length >= size
    assert count == 1 or (count - 1) * length < size


SAMPLES = [
    bi.MemSample(0.0, 30_000, 0),
    bi.MemSample(0.2, 50_000, 50),
    bi.MemSample(0.4, 51_000, 120),
    bi.MemSample(0.6, 52_000, 500),
    bi.MemSample(0.8, 52_500, 900),
]


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.0, 30_000),  # the very start: the first sample
        (0.1, 51_000),  # 100 bytes of 1000: the first sample at or past 100 is offset 120
        (0.5, 52_000),  # exactly at 500
        (0.9, 52_500),  # the last sample reaches 900
        (0.95, None),  # never reached (the import ended between samples)
    ],
)
def test_rss_at_fractions(fraction: float, expected: int | None) -> None:
    assert bi.rss_at_fractions(SAMPLES, 1000, (fraction,)) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"prefix_offset": 1234, "prefix_line": 7}', 1234),  # a checkpoint
        (b'{"prefix_offset": 0}', 0),  # nothing acknowledged yet
        (b'{"prefix_off', None),  # a torn read (never happens: written by rename)
        (b"[1, 2]", None),  # not an object
        (b'{"prefix_offset": "12"}', None),  # not a number
    ],
)
def test_checkpoint_offset(raw: bytes, expected: int | None) -> None:
    assert bi.checkpoint_offset(raw) == expected


def test_import_seconds_is_ended_minus_started() -> None:
    doc = {"started_at": "2026-12-02T14:00:00Z", "ended_at": "2026-12-02T14:01:30.500000Z"}
    assert bi.import_seconds(doc) == pytest.approx(90.5)


def test_the_rss_parser_reads_vmrss() -> None:
    status = "Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\nThreads:\t1\n"
    assert b.parse_status_kb(status) == 51234
    assert b.parse_status_kb("Name:\tzombie\n") is None
