"""The guard at signing time: `loadgen approve sign` refuses what no approval can cover, and
says when the target does not trust the signing key yet.

Without this, a spike profile was signed without complaint and only `run` refused it; the
pipeline team would have put their name on a profile the guard never lets through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from loadgen.arrivals.plan import Plan
from loadgen.errors import GuardRefusal
from loadgen.guard.approvals import Approval, key_id
from loadgen.guard.limits import APPROVABLE
from loadgen.guard.rules import evaluate
from loadgen.guard.verification import verify

TRUST_RULES = frozenset({"approval.no-trusted-keys", "approval.untrusted-key"})
_NEVER = "no approval can cover these: fix the profile first, then sign it"


def refuse_unapprovable(plan: Plan, *, now: datetime) -> None:
    """Raise `GuardRefusal` (exit 4, as `run` would) when a refusal that no approval covers
    stands: a spike, a payload that cannot fit, a production target without apps_enabled."""
    verdict = evaluate(plan, approval=None, now=now)
    standing = tuple(
        f
        for f in verdict.findings
        if f.blocking and f.rule not in APPROVABLE and not f.rule.startswith("approval.")
    )
    if standing:
        only = replace(verdict, findings=standing)  # the message `run` prints, these only
        raise GuardRefusal(f"{only.refusal_message()}\n{_NEVER}")


def trust_warning(approval: Approval, plan: Plan, public_key: str, *, now: datetime) -> str | None:
    """What to tell the signer when `target` does not trust the key yet: the approval is
    void until its public key is added to the target's `trusted_keys`."""
    check = verify(approval, plan, now)
    target = plan.target
    if not any(f.rule in TRUST_RULES for f in check.failures):
        return None
    if target.is_local and target.source is None:  # built in: it has no trusted_keys to edit
        return (
            f"the built-in target {target.name!r} trusts no signing key, so this approval "
            f"(key {key_id(public_key)}) is void there"
        )
    where = f"trusted_keys of [targets.{target.name}]"
    if target.source:
        where += f" in {target.source}"
    return (
        f"target {target.name!r} does not trust the signing key {key_id(public_key)} yet: "
        f"the approval is void until you add its public key to {where}:\n  {public_key}"
    )
