"""`loadgen merge`: the parts of a fleet into one artifact and one verdict. The checks are
table tests and properties over synthetic parts; the command is run for real on the slices
of a run made against one shared mock."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.errors import ExitCode
from loadgen.mock.process import LocalMock
from loadgen.results.artifact import ResultsError, validate_artifact, write_artifact
from loadgen.results.merge import Part, merge_fleet, segments_of
from tests.run_support import (
    cli,
    profile,
    read_checked,
    run_all,
    start,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table
from tests.test_results import sample

F = Fraction


def part(label: str, start_: str, end: str, **changes: Any) -> Part:
    doc = copy.deepcopy(sample())
    doc["run"] = {"segment": f"{start_}:{end}", "segment_start": start_, "segment_end": end}
    for key, value in changes.items():
        section, field = key.split("__")
        doc[section][field] = value
    return Part(label, doc)


@pytest.mark.parametrize(
    ("spans", "missing"),
    [
        ([("0", "1")], []),  # one whole run
        ([("0", "1/3"), ("1/3", "2/3"), ("2/3", "1")], []),  # three pods, all there
        ([("2/3", "1"), ("0", "1/3"), ("1/3", "2/3")], []),  # given in any order
        ([("0", "1/3"), ("2/3", "1")], [("1/3", "2/3")]),  # the middle pod lost
        ([("1/4", "1/2")], [("0", "1/4"), ("1/2", "1")]),  # only one slice: both sides missing
    ],
)
def test_missing_segments_are_named(spans: list[tuple[str, str]], missing: list[Any]) -> None:
    parts = [part(f"p{i}.json", a, b) for i, (a, b) in enumerate(spans)]
    if missing:
        with pytest.raises(ResultsError, match="missing") as refused:
            merge_fleet(parts)
        for a, b in missing:
            assert f"{a}:{b}" in str(refused.value)
    merged = merge_fleet(parts, allow_partial=True)
    assert merged["run"]["missing_segments"] == [[a, b] for a, b in missing]
    assert merged["run"]["parts"] == [p.label for p in parts]
    validate_artifact(merged)


@pytest.mark.parametrize(
    ("second", "said"),
    [
        (part("b.json", "1/2", "1", profile__hash="sha256:other"), "different profile content"),
        (part("b.json", "1/2", "1", profile__name="other"), "different profile"),  # renamed
        (part("b.json", "1/2", "1", target__name="prod"), "different target"),  # another target
        (part("b.json", "1/2", "1", target__url="http://127.0.0.1:9"), "different target URL"),
        (part("b.json", "1/3", "1"), "overlaps"),  # 1/3..1/2 sent twice
        (part("b.json", "0", "1/2"), "given twice"),  # the same slice again
    ],
)
def test_parts_that_do_not_belong_together_are_refused_naming_both_files(
    second: Part, said: str
) -> None:
    with pytest.raises(ResultsError, match=said) as refused:
        merge_fleet([part("a.json", "0", "1/2"), second], allow_partial=True)
    assert "a.json" in str(refused.value) and "b.json" in str(refused.value)


def test_an_older_artifact_without_segment_fields_is_the_whole_schedule() -> None:
    doc = sample()
    doc["run"] = {}
    assert segments_of(doc) == [(F(0), F(1))]
    doc["run"] = {"segment": "2/4"}
    assert segments_of(doc) == [(F(1, 4), F(1, 2))]


@settings(max_examples=50, deadline=None)
@given(st.sets(st.fractions(min_value=0, max_value=1, max_denominator=60), max_size=6))
def test_any_cut_of_the_schedule_merges_whole_and_one_lost_piece_is_named(
    cuts: set[Fraction],
) -> None:
    edges = sorted({F(0), F(1), *cuts})
    spans = list(itertools.pairwise(edges))
    parts = [part(f"p{i}.json", str(a), str(b)) for i, (a, b) in enumerate(spans)]
    merged = merge_fleet(parts)
    assert merged["totals"]["planned"] == len(parts) * sample()["totals"]["planned"]
    if len(parts) > 1:
        lost = spans[len(spans) // 2]
        kept = [p for p, s in zip(parts, spans, strict=True) if s != lost]
        partial = merge_fleet(kept, allow_partial=True)
        assert partial["run"]["missing_segments"] == [[str(lost[0]), str(lost[1])]]


def test_series_of_parts_started_apart_are_added_by_wall_clock_second() -> None:
    early, late = part("a.json", "0", "1/2"), part("b.json", "1/2", "1")
    late.doc["started_at"] = (
        (datetime.fromisoformat(early.doc["started_at"].replace("Z", "+00:00")))
        + timedelta(seconds=2)
    ).isoformat()
    merged = merge_fleet([early, late])
    first_row = early.doc["series"][0]
    assert merged["series"][0]["planned"] == first_row["planned"]  # b had not started yet
    assert len(merged["series"]) == len(early.doc["series"]) + 2


# 1 -> 10 req/s over 2 s, then 3 s at 10 req/s
STAGES = (("2s", 10), ("3s", 10))


def test_three_real_slices_merge_into_the_single_run_the_mock_saw(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("fleet", start_rate=1, stages=STAGES))
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, shared=target_table(mock.url, safety_error_ratio=1))
        agreed = f"{(datetime.now(UTC) + timedelta(seconds=5)).timestamp():.3f}"
        slices = [tmp_path / f"slice{i}.json" for i in (1, 2, 3)]
        runs = [
            start(
                "run",
                path,
                "-t",
                "shared",
                "--segment",
                f"{i}/3",
                "--start-at",
                agreed,
                "--out",
                slices[i - 1],
                "-q",
            )
            for i in (1, 2, 3)
        ]
        assert all(r.returncode == 0 for r in run_all(runs))
        received = mock.stats()["requests_total"]
    single = cli("plan", path, "--json")
    merged_path = tmp_path / "merged.json"
    result = cli("merge", *slices, "-o", merged_path)
    assert result.returncode == ExitCode.OK, result.explain()
    merged = read_checked(merged_path)
    assert merged["totals"]["sent"] == received == merged["totals"]["planned"]
    assert f'"total_requests": {merged["totals"]["planned"]}' in single.stdout
    assert merged["run"]["segments"] == [["0", "1/3"], ["1/3", "2/3"], ["2/3", "1"]]
    assert str(merged_path) in result.stdout  # the summary names the merged file
    assert cli("report", merged_path).returncode == 0

    missing = cli("merge", slices[0], slices[2], "-o", tmp_path / "m2.json")
    assert missing.returncode == ExitCode.INVALID_INPUT, missing.explain()
    assert "1/3:2/3" in missing.stderr and "--allow-partial" in missing.stderr
    assert "Traceback" not in missing.stderr
    partial = cli("merge", slices[0], slices[2], "-o", tmp_path / "m2.json", "--allow-partial")
    assert partial.returncode == ExitCode.OK, partial.explain()
    assert "without segments 1/3:2/3" in partial.stderr
    twice = cli("merge", slices[0], slices[0], slices[1], slices[2], "-o", tmp_path / "m3.json")
    assert twice.returncode == ExitCode.INVALID_INPUT and "overlaps" in twice.stderr


def test_merge_refuses_a_bad_out_before_reading_anything(tmp_path: Path) -> None:
    doc = sample()
    write_artifact(tmp_path / "a.json", doc)
    result = cli("merge", tmp_path / "a.json", "-o", tmp_path / "no" / "such" / "m.json")
    assert result.returncode == ExitCode.USAGE, result.explain()
    assert "does not exist" in result.stderr
