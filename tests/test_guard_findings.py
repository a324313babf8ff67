"""Findings and their three renderings: text, JSON and GitHub workflow annotations."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from loadgen.errors import Problem
from loadgen.guard.findings import (
    Finding,
    Summary,
    escape_data,
    escape_property,
    from_problem,
    render,
)

# (raw, as workflow-command data, as a workflow-command property)
ESCAPES = [
    ("plain", "plain", "plain"),  # nothing to escape
    ("50%", "50%25", "50%25"),  # a percent sign is the escape character itself
    ("a\nb", "a%0Ab", "a%0Ab"),  # newlines would end the command
    ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),  # so would carriage returns
    ("%0A", "%250A", "%250A"),  # an already-encoded-looking text stays literal
    ("a:b,c", "a:b,c", "a%3Ab%2Cc"),  # ':' and ',' separate properties, not data
]


@pytest.mark.parametrize(("raw", "data", "prop"), ESCAPES)
def test_github_escaping(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop


REFUSAL = Finding(
    "spike.slope",
    "refusal",
    "rises 100% too fast",
    "profiles/a,b:c.toml",
    12,
    "load.stages[1].target",
    value=20.0,
    limit=10.0,
    fix="stretch it\nor split it",
)
WARNING = Finding("schedule.weekend", "warning", "on a Saturday", "p.toml", 3, "schedule.start")
APPROVED = Finding("limit.workspace-rps", "refusal", "peak 150", "p.toml", 9, approved=True)
INVALID = from_problem(Problem("load", "missing table", "p.toml", None, fix="add [load]"))


def test_github_annotations() -> None:
    lines = render([REFUSAL, WARNING, APPROVED, INVALID], "github", 2).splitlines()
    assert lines[0] == (
        "::error file=profiles/a%2Cb%3Ac.toml,line=12,title=spike.slope::"
        "load.stages[1].target: rises 100%25 too fast%0Avalue 20, limit 10"
        "%0Afix: stretch it%0Aor split it"
    )
    assert lines[1] == (
        "::warning file=p.toml,line=3,title=schedule.weekend::schedule.start: on a Saturday"
    )
    # a refusal an approval covers is shown, but does not fail the check
    assert lines[2] == "::notice file=p.toml,line=9,title=limit.workspace-rps::approved: peak 150"
    # no line: the property is left out rather than invented
    assert (
        lines[3] == "::error file=p.toml,title=input.invalid::load: missing table%0Afix: add [load]"
    )
    assert lines[4].startswith("2 files checked: 1 refusal, 1 refusal approved, 1 warning")


def test_text_is_one_line_per_finding_and_a_summary() -> None:
    out = render([REFUSAL, WARNING, INVALID], "text", 1)
    lines = out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(
        "profiles/a,b:c.toml:12: refusal [spike.slope] load.stages[1].target:"
    )
    assert "(value 20, limit 10)" in lines[0]
    assert lines[2] == "p.toml: error [input.invalid] load: missing table; fix: add [load]"
    assert lines[3] == "1 file checked: 1 refusal, 1 warning, 1 invalid-input problem"


def test_json_round_trips() -> None:
    doc = orjson.loads(render([REFUSAL, APPROVED], "json", 1))
    assert [f["rule"] for f in doc["findings"]] == ["spike.slope", "limit.workspace-rps"]
    assert doc["findings"][0]["line"] == 12 and doc["findings"][0]["limit"] == 10.0
    assert doc["findings"][1]["approved"] is True
    assert doc["summary"] == {"files": 1, "refusals": 1, "approved": 1, "warnings": 0, "invalid": 0}


def test_unplain_values_become_text() -> None:
    f = Finding("x", "warning", "m", value=("a", 1))
    assert f.to_dict()["value"] == "('a', 1)"


def test_summary_counts_blocking_refusals_only() -> None:
    s = Summary.of([REFUSAL, APPROVED, WARNING, INVALID], 3)
    assert (s.refusals, s.approved, s.warnings, s.invalid) == (1, 1, 1, 1)


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="text, json, github"):
        render([], "xml", 0)


def test_every_rule_id_is_documented() -> None:
    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(
        r'"((?:spike|limit|payload|target|apps|population|mix|schedule|approval|input)'
        r'\.[a-z]+(?:-[a-z]+)*)"'
    )
    source = "".join(p.read_text() for p in (root / "loadgen" / "guard").glob("*.py"))
    ids = set(pattern.findall(source))
    assert len(ids) >= 25  # the catalogue, not a stray match
    docs = (root / "docs" / "guard.md").read_text()
    assert sorted(i for i in ids if f"`{i}`" not in docs) == []
