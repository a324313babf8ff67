"""The verdict: which refusals an approval covers, and what a broken approval does."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from loadgen.arrivals.plan import Plan
from loadgen.errors import Problem
from loadgen.guard.approvals import Approval, ApprovalError, keygen, sign
from loadgen.guard.rules import evaluate
from loadgen.inputs.models import Profile
from tests.guard_support import NOW, load, rules, stages, target

PRIVATE, PUBLIC = keygen()
FAST = {"start_rate": 0, "stages": stages((15, 150), (60, 150))}  # 150 req/s, a proper ramp


def approve(profile: Profile, name: str, max_rps: float = 150) -> Approval:
    """Signed for `target()` of that name (production for `prod`), as the verdicts use it."""
    signed_for = replace(target("production" if name == "prod" else "staging"), name=name)
    return sign(
        Plan.build(profile, signed_for), max_rps, NOW + timedelta(days=1), "Pat", PRIVATE, now=NOW
    )


def test_approval_covers_the_workspace_limit(tmp_path: Path) -> None:
    profile = load(tmp_path, load=FAST)
    tgt = target(trusted_keys=(PUBLIC,))
    refused = evaluate(Plan.build(profile, tgt), approval=None, now=NOW)
    assert refused.refused and refused.needs_approval and refused.approval_status == "missing"
    ok = evaluate(Plan.build(profile, tgt), approval=approve(profile, "staging"), now=NOW)
    assert not ok.refused and ok.approved_peak == 150
    (covered,) = [f for f in ok.findings if f.rule == "limit.workspace-rps"]
    assert covered.approved and not covered.blocking
    assert ok.approval_status.startswith("valid: approved by Pat for up to 150 req/s")


def test_approval_covers_production(tmp_path: Path) -> None:
    profile = load(tmp_path)
    prod = target("production", trusted_keys=(PUBLIC,))
    assert evaluate(Plan.build(profile, prod), approval=None, now=NOW).refused
    ok = evaluate(Plan.build(profile, prod), approval=approve(profile, "prod", 50), now=NOW)
    assert not ok.refused


def test_no_approval_covers_a_spike(tmp_path: Path) -> None:
    spiky = load(tmp_path, load={"start_rate": 0, "stages": stages((1, 150), (60, 150))})
    tgt = target(trusted_keys=(PUBLIC,))
    v = evaluate(Plan.build(spiky, tgt), approval=approve(spiky, "staging"), now=NOW)
    assert v.refused
    assert [f.rule for f in v.refusals] == ["spike.slope"]
    assert "never approvable" in v.refusals[0].message
    assert "spike.slope" in v.refusal_message()


def test_invalid_approval_refuses_with_its_reason(tmp_path: Path) -> None:
    profile = load(tmp_path, load=FAST)
    tgt = target(trusted_keys=(PUBLIC,))
    expired = evaluate(
        Plan.build(profile, tgt),
        approval=approve(profile, "staging"),
        now=NOW + timedelta(days=2),
    )
    assert expired.refused and expired.approved_peak is None
    assert {"approval.expired", "limit.workspace-rps"} <= {f.rule for f in expired.refusals}
    assert expired.approval_status.startswith("invalid: the approval expired")


def test_a_broken_approval_that_is_not_needed_only_warns(tmp_path: Path) -> None:
    profile = load(tmp_path)  # 50 req/s on staging: nothing to approve
    v = evaluate(
        Plan.build(profile, target(trusted_keys=(PUBLIC,))),
        approval=approve(profile, "elsewhere", 50),
        now=NOW,
    )
    assert not v.refused
    (f,) = v.findings
    assert f.rule == "approval.other-target" and f.severity == "warning"
    assert "ignored" in f.message


@pytest.mark.parametrize(("profile_load", "refused"), [(FAST, True), ({}, False)])
def test_malformed_approval_file(
    tmp_path: Path, profile_load: dict[str, object], refused: bool
) -> None:
    profile = load(tmp_path, load=profile_load) if profile_load else load(tmp_path)
    error = ApprovalError([Problem("max_rps", "must be a positive number", "p.approval.json", 5)])
    v = evaluate(
        Plan.build(profile, target(trusted_keys=(PUBLIC,))),
        approval=None,
        now=NOW,
        approval_error=error,
    )
    (f,) = [f for f in v.findings if f.rule == "approval.malformed"]
    assert f.line == 5 and f.path == "max_rps" and f.file == "p.approval.json"
    assert v.refused == refused
    assert (f.severity == "refusal") == refused


def test_refusals_come_first(tmp_path: Path) -> None:
    v = evaluate(
        Plan.build(load(tmp_path, load=FAST), target(identify_alias_share=0.0)),
        approval=None,
        now=NOW,
    )
    severities = [f.severity for f in v.findings]
    assert severities == sorted(severities, key=lambda s: s != "refusal")
    assert "approval.no-trusted-keys" in rules(v)


def test_now_must_be_aware(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        evaluate(Plan.build(load(tmp_path), target()), approval=None, now=NOW.replace(tzinfo=None))


def test_the_rate_cap_is_the_approved_peak_else_the_workspace_limit(tmp_path: Path) -> None:
    profile = load(tmp_path, load=FAST)
    tgt = target(trusted_keys=(PUBLIC,))
    limit = tgt.limits.workspace_rps_limit
    plan = Plan.build(profile, tgt)
    assert evaluate(plan, approval=None, now=NOW).rate_cap == limit  # refused, even
    approved = evaluate(plan, approval=approve(profile, "staging", 160), now=NOW)
    assert approved.rate_cap == approved.approved_peak == 160
    expired = evaluate(plan, approval=approve(profile, "staging"), now=NOW + timedelta(2))
    assert expired.approved_peak is None and expired.rate_cap == limit
    slow = load(tmp_path)  # needs no approval: the workspace limit holds it
    assert evaluate(Plan.build(slow, tgt), approval=None, now=NOW).rate_cap == limit
