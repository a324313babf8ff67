"""The refusal guard (GUARD.md): pure policy over a profile and a target, signed approvals,
the lint front end, the heads-up brief and the run-time safety pieces."""

from loadgen.guard.approvals import (
    Approval,
    ApprovalError,
    approval_path,
    keygen,
    load_approval,
    sign,
    write_approval,
)
from loadgen.guard.brief import excess_over, render_brief
from loadgen.guard.expiry import parse_expiry
from loadgen.guard.findings import Finding, render
from loadgen.guard.lint import lint, preflight
from loadgen.guard.rules import Verdict, evaluate
from loadgen.guard.runtime import RetryBackoff, SafetyMonitor, retry_delay
from loadgen.guard.verification import ApprovalCheck, ApprovalFailure, verify

__all__ = [
    "Approval",
    "ApprovalCheck",
    "ApprovalError",
    "ApprovalFailure",
    "Finding",
    "RetryBackoff",
    "SafetyMonitor",
    "Verdict",
    "approval_path",
    "evaluate",
    "excess_over",
    "keygen",
    "lint",
    "load_approval",
    "parse_expiry",
    "preflight",
    "render",
    "render_brief",
    "retry_delay",
    "sign",
    "verify",
    "write_approval",
]
