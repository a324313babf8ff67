"""Verify an approval against the plan (profile and target) it is used with.

Trust comes first (the key must be one the *target* lists), then the signature (a
tampered file says nothing true), then the scope: the target's name, endpoint and
environment, the profile hash, the peak, and the validity window (issued at, with a small
clock skew, until it expires), each with its own refusal message.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from loadgen.arrivals.plan import Plan
from loadgen.guard.approvals import CLOCK_SKEW, Approval, canonical_bytes, endpoint_of, key_id
from loadgen.guard.expiry import expiry_text, utc_text
from loadgen.guard.limits import suggested_max_rps
from loadgen.inputs.targets import Target

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class ApprovalFailure:
    rule: str
    message: str
    field: str  # the approval field at fault, "" when it is the target's configuration
    fix: str


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    approval: Approval
    failures: tuple[ApprovalFailure, ...]

    @property
    def valid(self) -> bool:
        return not self.failures


def verify(approval: Approval, plan: Plan, now: datetime) -> ApprovalCheck:
    """Check trust, then the signature, then what was approved against what is asked."""
    failure = _trust_and_signature(approval, plan.target)
    if failure is not None:
        return ApprovalCheck(approval, (failure,))
    return ApprovalCheck(approval, tuple(_scope(approval, plan, now)))


def _trust_and_signature(approval: Approval, target: Target) -> ApprovalFailure | None:
    # cryptography (~10-20 ms to import) only when there is an approval to check: the
    # guard, lint and run of a profile without one never load it.
    from cryptography.exceptions import InvalidSignature

    if not target.trusted_keys:
        return ApprovalFailure(
            "approval.no-trusted-keys",
            f"target {target.name!r} trusts no approval key, so nothing can approve it",
            "",
            f"add the pipeline team's public key to trusted_keys of [targets.{target.name}]",
        )
    key = _trusted_key(approval.key_id, target.trusted_keys)
    if key is None:
        return ApprovalFailure(
            "approval.untrusted-key",
            f"the approval is signed with key {approval.key_id}, which target "
            f"{target.name!r} does not trust",
            "key_id",
            "have it signed with a key listed in the target's trusted_keys",
        )
    try:
        key.verify(base64.b64decode(approval.signature), canonical_bytes(approval))
    except (InvalidSignature, binascii.Error, ValueError):
        return ApprovalFailure(
            "approval.bad-signature",
            "the approval's signature does not match its contents: it was edited after "
            "signing, or forged",
            "signature",
            "ask the pipeline team to sign it again; never edit an approval file",
        )
    return None


def _trusted_key(wanted: str, trusted: tuple[str, ...]) -> Ed25519PublicKey | None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # see above

    for text in trusted:
        try:
            if key_id(text) == wanted:
                return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            continue  # a malformed entry can match nothing
    return None


RESIGN = "ask the pipeline team for a new approval (loadgen approve sign)"


def _scope(a: Approval, plan: Plan, now: datetime) -> list[ApprovalFailure]:
    return [
        *_binding(a, plan.target),
        *_profile_and_peak(a, plan),
        *_validity(a, now),
    ]


def _binding(a: Approval, target: Target) -> list[ApprovalFailure]:
    """What the pipeline team approved: this target, at this endpoint, in this environment."""
    failures = []
    if a.target != target.name:
        failures.append(
            ApprovalFailure(
                "approval.other-target",
                f"the approval is for target {a.target!r}, not {target.name!r}",
                "target",
                f"use --target {a.target}, or {RESIGN} for {target.name!r}",
            )
        )
    now_at = endpoint_of(target.url)
    if a.target_url != now_at:
        failures.append(
            ApprovalFailure(
                "approval.other-url",
                f"the approval is for url {a.target_url}, target {target.name!r} now points "
                f"at {now_at}",
                "target_url",
                f"point the target back at {a.target_url}, or {RESIGN} for {now_at}",
            )
        )
    if a.target_environment != target.environment:
        failures.append(
            ApprovalFailure(
                "approval.other-environment",
                f"the approval is for a {a.target_environment} target, target "
                f"{target.name!r} is now {target.environment}",
                "target_environment",
                f"set environment = {a.target_environment!r} again, or {RESIGN}",
            )
        )
    return failures


def _profile_and_peak(a: Approval, plan: Plan) -> list[ApprovalFailure]:
    profile, peak = plan.profile, plan.schedule.peak_rate
    failures = []
    if a.profile_hash != profile.content_hash:
        failures.append(
            ApprovalFailure(
                "approval.profile-edited",
                "the profile was edited after it was approved (its content hash "
                f"{profile.content_hash[:19]}… is not the approved {a.profile_hash[:19]}…)",
                "profile_hash",
                f"undo the edit, or {RESIGN}",
            )
        )
    if peak > a.max_rps:
        failures.append(
            ApprovalFailure(
                "approval.peak-above-approved",
                f"the profile peaks at {peak:g} req/s, above the approved {a.max_rps:g} req/s",
                "max_rps",
                f"lower the peak to {a.max_rps:g} req/s, or {RESIGN} "
                f"(--max-rps {suggested_max_rps(peak)})",
            )
        )
    return failures


def _validity(a: Approval, now: datetime) -> list[ApprovalFailure]:
    failures = []
    if a.issued_at > now + CLOCK_SKEW:
        failures.append(
            ApprovalFailure(
                "approval.not-yet-valid",
                f"the approval is issued at {utc_text(a.issued_at)}, in the future (now is "
                f"{utc_text(now)}; clocks may differ by {CLOCK_SKEW.seconds // 60} minutes)",
                "issued_at",
                f"check this machine's clock; if it is right, {RESIGN}",
            )
        )
    if now >= a.expires:
        failures.append(
            ApprovalFailure(
                "approval.expired",
                f"the approval expired at {expiry_text(a.expires)}",
                "expires",
                RESIGN,
            )
        )
    return failures
