"""The guard's verdict: every rule of GUARD.md over one profile and one target, plus approval.

`evaluate` is pure (no files, no clock): `lint`, `brief`, `run` and `approve sign` call it
with the same resolved `Plan` and so give the same answer. An approval covers only the
refusals in `APPROVABLE`; a spike, a payload that cannot fit, or a missing `apps_enabled`
stays refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from loadgen.arrivals.plan import Plan
from loadgen.errors import Problem
from loadgen.guard import events, limits, past, payload, population, spike, timing
from loadgen.guard.approvals import Approval, ApprovalError
from loadgen.guard.context import Context
from loadgen.guard.expiry import expiry_text
from loadgen.guard.findings import Finding, Severity, describe
from loadgen.guard.limits import APPROVABLE
from loadgen.inputs.targets import Target

if TYPE_CHECKING:
    from loadgen.guard.verification import ApprovalFailure

CHECKS = (spike.check, limits.check, payload.check, population.check, events.check, timing.check)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer for one profile on one target, and the rate cap a run keeps."""

    findings: tuple[Finding, ...]
    refused: bool  # a refusal that no valid approval covers
    approval_status: str
    approved_peak: float | None  # the approved max_rps, when an approval is valid
    needs_approval: bool
    # Requests/s a run never exceeds, retries included: the approved peak, or without an
    # approval the workspace limit (the rules have checked the plan stays under it). A cap
    # equal to the planned rate would queue first attempts behind every hiccup, so it is
    # never the plan.
    rate_cap: float

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def refusal_message(self) -> str:
        """One paragraph for `GuardRefusal`: every blocking finding, as lint prints it."""
        lines = [f"{len(self.refusals)} refusal(s):"]
        lines += [f"  - {f.where()}: [{f.rule}] {describe(f)}" for f in self.refusals]
        return "\n".join(lines)


def evaluate(
    plan: Plan,
    *,
    approval: Approval | None,
    now: datetime,
    approval_error: ApprovalError | None = None,
) -> Verdict:
    """Apply every rule; findings sit on the plan's profile lines, `approval_error` is a
    malformed approval file found beside the profile."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    target = plan.target
    ctx = Context.of(plan)
    found = [finding for check in CHECKS for finding in check(ctx)]
    found += past.check(ctx, now)  # the one rule that reads the clock
    needs = any(f.rule in APPROVABLE for f in found)
    if approval_error is not None:
        found += [_malformed(p, needs) for p in approval_error.problems]
        status = "invalid: the approval file is malformed"
        return _verdict(found, status, None, needs, target)
    if approval is None:
        found += _no_keys(target, needs)
        return _verdict(found, "missing" if needs else "not needed", None, needs, target)
    # Checking an approval (and with it cryptography) only when there is one to check.
    from loadgen.guard.verification import verify

    check = verify(approval, plan, now)
    if not check.valid:
        found += [_failure(approval, f, target, needs) for f in check.failures]
        return _verdict(found, f"invalid: {check.failures[0].message}", None, needs, target)
    note = (
        f"approved by {approval.approved_by} for up to {approval.max_rps:g} req/s "
        f"on {approval.target!r} until {expiry_text(approval.expires)}"
    )
    found = [replace(f, approved=True, approval=note) if f.rule in APPROVABLE else f for f in found]
    status = f"valid: {note} (key {approval.key_id})"
    return _verdict(found, status, approval.max_rps, needs, target)


def _verdict(
    found: list[Finding], status: str, peak: float | None, needs: bool, target: Target
) -> Verdict:
    ordered = sorted(found, key=lambda f: (not f.blocking, f.severity != "refusal"))
    refused = any(f.blocking for f in found)
    rate_cap = peak or target.limits.workspace_rps_limit
    return Verdict(tuple(ordered), refused, status, peak, needs, rate_cap)


def _approval_severity(needs: bool) -> Severity:
    """A broken approval refuses only when one is needed; otherwise it is just ignored."""
    return "refusal" if needs else "warning"


def _ignored(needs: bool) -> str:
    return "" if needs else " (ignored: this run needs no approval)"


def _failure(approval: Approval, f: ApprovalFailure, target: Target, needs: bool) -> Finding:
    on_target = f.field == ""
    file = target.source if on_target else str(approval.path) if approval.path else None
    return Finding(
        f.rule,
        _approval_severity(needs),
        f.message + _ignored(needs),
        file,
        None if on_target else approval.lines.get(f.field),
        f"targets.{target.name}.trusted_keys" if on_target else f.field,
        fix=f.fix,
    )


def _malformed(problem: Problem, needs: bool) -> Finding:
    return Finding(
        "approval.malformed",
        _approval_severity(needs),
        f"malformed approval file: {problem.message}{_ignored(needs)}",
        problem.file,
        problem.line,
        problem.path,
        problem.value,
        fix=problem.fix,
    )


def _no_keys(target: Target, needs: bool) -> list[Finding]:
    if not needs or target.trusted_keys:
        return []
    return [
        Finding(
            "approval.no-trusted-keys",
            "refusal",
            f"target {target.name!r} trusts no approval key, so no approval can ever cover "
            "this run",
            target.source,
            target.line_of(f"targets.{target.name}.trusted_keys"),
            f"targets.{target.name}.trusted_keys",
            fix=f"add the pipeline team's public key to trusted_keys of [targets.{target.name}]",
        )
    ]
