"""The brief agrees with itself and with lint (issue 9, section 6): start and end to the
second, one request total, approved findings say who approved them, one way to show an
expiry, and one approval headroom (peak + 5 %) in the suggestion and the README."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.guard.approvals import keygen, sign
from loadgen.guard.brief import render_brief
from loadgen.guard.expiry import expiry_text, parse_expiry
from loadgen.guard.findings import describe, render_text
from loadgen.guard.limits import APPROVAL_HEADROOM, suggested_max_rps
from loadgen.guard.rules import Verdict, evaluate
from loadgen.inputs.models import Profile
from loadgen.inputs.targets import Target
from tests.guard_support import NOW, load, stages, target

ROOT = Path(__file__).resolve().parent.parent
PRIVATE, PUBLIC = keygen()
# 0 -> 150 req/s in 15 s, then 60.005 s at 150: 10,125.75 requests planned, 10,125 sent
FAST = {"start_rate": 0, "stages": stages((15, 150), (60.005, 150))}


def brief(profile: Profile, tgt: Target, verdict: Verdict | None = None) -> str:
    plan = Plan.build(profile, tgt)
    return render_brief(plan, verdict or evaluate(plan, approval=None, now=NOW))


def test_a_40_second_run_starts_and_ends_at_different_printed_times(tmp_path: Path) -> None:
    profile = load(tmp_path, load={"start_rate": 1, "stages": stages((5, 40), (35, 40))})
    lines = brief(profile, target()).splitlines()
    start = next(line for line in lines if line.startswith("- start: "))
    end = next(line for line in lines if line.startswith("- end: "))
    assert (
        start
        == "- start: 2026-12-01 09:00:00 UTC = Tuesday 2026-12-01 10:00:00 Europe/Berlin (CET)"
    )
    assert end == (
        "- end: 2026-12-01 09:00:40 UTC = Tuesday 2026-12-01 10:00:40 Europe/Berlin (CET) "
        "(40s later)"
    )


def test_every_request_total_in_the_brief_is_the_plans(tmp_path: Path) -> None:
    profile = load(tmp_path, load=FAST)
    plan = Plan.build(profile, target())
    assert float(plan.schedule.total_area) == pytest.approx(10_125.75)  # rounds to 10,126
    text = brief(profile, target())
    totals = re.findall(r"total: ([\d,]+) requests", text) + re.findall(r"% of ([\d,]+)\)", text)
    assert totals == ["10,125", "10,125"]  # the peak section and the 429 estimate
    assert plan.schedule.total_requests == 10_125


def _approved_verdict(profile: Profile, tgt: Target, expires: datetime) -> Verdict:
    plan = Plan.build(profile, tgt)
    approval = sign(plan, 158, expires, "Pipeline Pat", PRIVATE, now=NOW)
    return evaluate(plan, approval=approval, now=NOW)


def test_approved_findings_say_who_approved_them_not_how_to_fix(tmp_path: Path) -> None:
    profile = load(tmp_path, load=FAST)
    tgt = target(trusted_keys=(PUBLIC,))
    verdict = _approved_verdict(profile, tgt, parse_expiry("2026-12-04"))
    text = brief(profile, tgt, verdict)
    (line,) = [row for row in text.splitlines() if "`limit.workspace-rps`" in row]
    assert line.startswith("- **approved** `limit.workspace-rps`")
    assert "fix:" not in line and "lower the peak" not in line
    assert line.endswith(
        "approved by Pipeline Pat for up to 158 req/s on 'staging' until the end of "
        "2026-12-04 UTC (2026-12-05T00:00:00Z)"
    )
    # lint says the same, from the same finding
    assert "lower the peak" not in render_text(list(verdict.findings), 1)


def test_unapproved_findings_still_say_how_to_fix(tmp_path: Path) -> None:
    profile = load(tmp_path, load=FAST)
    (finding,) = [
        f
        for f in evaluate(Plan.build(profile, target()), approval=None, now=NOW).findings
        if f.rule == "limit.workspace-rps"
    ]
    assert describe(finding).endswith(
        "fix: lower the peak to 100 req/s, or get a signed approval "
        "(loadgen approve sign --max-rps 158: the peak + 5 %)"
    )


# (what --expires says, what the file stores, how every command shows it)
EXPIRES = [
    # a bare date: through the end of that UTC day, stored as the next midnight
    ("2026-12-04", "2026-12-05T00:00:00Z", "the end of 2026-12-04 UTC (2026-12-05T00:00:00Z)"),
    # the last day of a year rolls the stored instant into the next year
    ("2026-12-31", "2027-01-01T00:00:00Z", "the end of 2026-12-31 UTC (2027-01-01T00:00:00Z)"),
    # an instant with an offset is stored and shown as that instant in UTC
    ("2026-12-04T18:00:00+01:00", "2026-12-04T17:00:00Z", "2026-12-04T17:00:00Z"),
    # an explicit midnight is the end of the day before, and shown as such
    (
        "2026-12-05T00:00:00Z",
        "2026-12-05T00:00:00Z",
        "the end of 2026-12-04 UTC (2026-12-05T00:00:00Z)",
    ),
]


@pytest.mark.parametrize(("given_text", "stored", "shown"), EXPIRES)
def test_one_rule_for_showing_an_expiry(
    tmp_path: Path, given_text: str, stored: str, shown: str
) -> None:
    expires = parse_expiry(given_text)
    assert expires.isoformat().replace("+00:00", "Z") == stored
    assert expiry_text(expires) == shown
    profile = load(tmp_path, load=FAST)
    tgt = target(trusted_keys=(PUBLIC,))
    verdict = _approved_verdict(profile, tgt, expires)
    assert f"until {shown} (key " in verdict.approval_status  # brief header and section
    assert shown in brief(profile, tgt, verdict)
    assert shown in render_text(list(verdict.findings), 1)  # lint
    late = sign(Plan.build(profile, tgt), 158, expires, "Pat", PRIVATE, now=NOW)
    expired = evaluate(Plan.build(profile, tgt), approval=late, now=expires)
    assert f"the approval expired at {shown}" in expired.approval_status


def test_a_bare_date_is_valid_through_its_last_second() -> None:
    expires = parse_expiry("2026-12-04")
    assert datetime(2026, 12, 4, 23, 59, 59, tzinfo=UTC) < expires
    assert expires == datetime(2026, 12, 5, tzinfo=UTC)  # the first instant it is void


# (the profile's peak, the --max-rps the guard suggests)
SUGGESTED = [
    (150, 158),  # 157.5 rounds up
    (120, 126),  # exactly 5 % more is a whole number
    (200, 210),  # 200 * 1.05 is 210.00000000000003 in floats: still 210
    (100.5, 106),  # a fractional peak: 105.525 rounds up
    (1000, 1050),
    (0.5, 1),  # at least one request/s
]


@pytest.mark.parametrize(("peak", "suggested"), SUGGESTED)
def test_suggested_max_rps(peak: float, suggested: int) -> None:
    assert suggested_max_rps(peak) == suggested


@given(st.floats(min_value=0.01, max_value=1e7))
def test_suggestion_is_the_peak_plus_headroom_rounded_up(peak: float) -> None:
    got = suggested_max_rps(peak)
    assert got >= peak  # `approve sign` accepts it
    assert peak * (1 + APPROVAL_HEADROOM) - 1e-6 * peak <= got
    assert got <= math.ceil(peak * (1 + APPROVAL_HEADROOM))


def test_readme_and_docs_give_the_same_headroom_as_the_suggestion() -> None:
    assert APPROVAL_HEADROOM == 0.05
    readme = " ".join((ROOT / "README.md").read_text().split())
    docs = " ".join((ROOT / "docs" / "guard.md").read_text().split())
    assert "`--max-rps` = the peak + 5 %, rounded up (150 req/s: 158)" in readme
    assert "`--max-rps` = the peak + 5 %, rounded up" in docs
    assert f"(150 req/s: {suggested_max_rps(150)})" in readme


def test_expiry_text_is_utc_whatever_the_offset() -> None:
    one_am_in_berlin = datetime(2026, 12, 5, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert expiry_text(one_am_in_berlin) == "the end of 2026-12-04 UTC (2026-12-05T00:00:00Z)"


def test_the_brief_shows_the_target_endpoint_without_credentials(tmp_path: Path) -> None:
    profile = load(tmp_path)
    leaky = replace(target(), url="https://alice:s3cret@capture.example.com/?token=phc_x")
    text = brief(profile, leaky)
    row = "| target | `staging`: https://***@capture.example.com/?*** (staging, API posthog) |"
    assert row in text
    assert "s3cret" not in text and "phc_x" not in text and "alice" not in text
