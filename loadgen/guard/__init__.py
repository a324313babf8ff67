"""The refusal guard (GUARD.md): pure policy over a profile and a target, signed approvals,
the lint front end, the heads-up brief and the run-time safety pieces.

The names below are the face of the package, each loaded from its module when first asked
for: importing any one guard module (the cli's `lint`, the runner's `runtime`) runs this
file first, and eager re-exports would make every command pay for all of them (the brief,
the approvals and with them cryptography: ~40 ms of `loadgen lint`'s start-up).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from loadgen import load_on_use

if TYPE_CHECKING:
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

_MODULE_OF = MappingProxyType(
    {
        "Approval": "approvals",
        "ApprovalError": "approvals",
        "approval_path": "approvals",
        "keygen": "approvals",
        "load_approval": "approvals",
        "sign": "approvals",
        "write_approval": "approvals",
        "excess_over": "brief",
        "render_brief": "brief",
        "parse_expiry": "expiry",
        "Finding": "findings",
        "render": "findings",
        "lint": "lint",
        "preflight": "lint",
        "Verdict": "rules",
        "evaluate": "rules",
        "RetryBackoff": "runtime",
        "SafetyMonitor": "runtime",
        "retry_delay": "runtime",
        "ApprovalCheck": "verification",
        "ApprovalFailure": "verification",
        "verify": "verification",
    }
)


def __getattr__(name: str) -> object:
    return load_on_use(__name__, _MODULE_OF, name)
