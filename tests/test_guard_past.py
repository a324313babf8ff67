"""`schedule.start-in-past`: a start time that is already over is announced wrongly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loadgen.arrivals.plan import Plan
from loadgen.guard.lint import lint
from loadgen.guard.past import RULE
from loadgen.guard.rules import evaluate
from loadgen.inputs.targets import BUILTIN_LOCAL
from tests.guard_support import DELETE, NOW, load, target

START = datetime.fromisoformat("2026-12-01T10:00:00+01:00")  # guard_support's base start

# (now, expected to warn)
CASES = [
    # the test clock, days before the start: nothing to say
    (NOW, False),
    # exactly at the start: the run can still begin on time
    (START, False),
    # one second after the start: the announced time is over
    (START + timedelta(seconds=1), True),
    # a year later, still a warning (never a refusal: old profiles still run on the mock)
    (START + timedelta(days=365), True),
]


@pytest.mark.parametrize(("now", "warns"), CASES)
def test_start_in_past_warns_only_after_the_start(
    tmp_path: Path, now: datetime, warns: bool
) -> None:
    v = evaluate(Plan.build(load(tmp_path), target()), approval=None, now=now)
    found = [f for f in v.findings if f.rule == RULE]
    assert bool(found) == warns
    assert all(f.severity == "warning" for f in found)
    assert not v.refused


def test_no_start_no_past_warning(tmp_path: Path) -> None:
    late = START + timedelta(days=30)
    v = evaluate(Plan.build(load(tmp_path, schedule=DELETE), target()), approval=None, now=late)
    assert RULE not in {f.rule for f in v.findings}


def test_the_local_target_is_warned_too(tmp_path: Path) -> None:
    # a stale date misleads whoever reads the profile, whichever target it runs on
    late = START + timedelta(days=1)
    v = evaluate(Plan.build(load(tmp_path), BUILTIN_LOCAL), approval=None, now=late)
    assert RULE in {f.rule for f in v.findings}


def test_lint_places_the_warning_on_the_start_line(tmp_path: Path) -> None:
    path = tmp_path / "late.toml"
    load(tmp_path)  # writes p.toml from the base profile
    text = (tmp_path / "p.toml").read_text()
    path.write_text(text)
    line = text.splitlines().index(next(t for t in text.splitlines() if t.startswith("start")))
    output, code = lint(
        [path], "local", None, strict=False, fmt="text", now=START + timedelta(hours=1)
    )
    assert f"{path}:{line + 1}: warning [{RULE}] schedule.start:" in output
    assert code == 0  # a warning fails only with --strict
    _, strict_code = lint(
        [path], "local", None, strict=True, fmt="text", now=START + timedelta(hours=1)
    )
    assert strict_code == 1


def test_shipped_profiles_have_no_stale_start() -> None:
    shipped = sorted(Path(__file__).resolve().parent.parent.glob("profiles/*.toml"))
    assert shipped
    far_future = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
    output, code = lint(shipped, "local", None, strict=True, fmt="text", now=far_future)
    assert code == 0, output
