"""Signed approvals: the pipeline team's Ed25519 signature over a profile, a target and a peak.

An approval file sits beside the profile as `<profile-stem>.approval.json`. It names the
profile's canonical content hash, the target (its name, its endpoint URL and its
environment: what the pipeline team looked at), the approved peak (requests/s), the
approver, when it was issued and when it expires, and is signed over a canonical
serialization of all those fields (sorted-key JSON, UTC timestamps, integral numbers
without `.0`). A profile cannot approve itself: approvals are never read from the profile,
and the signing key must be one the *target* lists in `trusted_keys`, so a target that
trusts no key can never be approved.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from loadgen.arrivals.plan import Plan
from loadgen.errors import InvalidInputError, Problem
from loadgen.guard.expiry import utc_text
from loadgen.inputs.files import UnreadableInput, read_input

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

# /2 added target_url and target_environment; a /1 file binds only the target's name.
FORMAT = "loadgen-approval/2"
OLD_FORMATS = frozenset({"loadgen-approval/1"})
SUFFIX = ".approval.json"
# How far `issued_at` may be ahead of the verifier's clock: the signer's and the CI
# runner's clocks disagree by seconds, never by minutes, unless the date was forged.
CLOCK_SKEW = timedelta(minutes=5)
SIGNED = (
    "format",
    "profile_hash",
    "profile_name",
    "target",
    "target_url",
    "target_environment",
    "max_rps",
    "expires",
    "approved_by",
    "issued_at",
    "key_id",
)
FIELDS = (*SIGNED, "signature")
_FIELD_KEY = re.compile(r'"([^"\\]+)"\s*:')


class ApprovalError(InvalidInputError):
    """An approval file is missing, unreadable or malformed (every problem is listed)."""


@dataclass(frozen=True, slots=True)
class Approval:
    profile_hash: str
    profile_name: str
    target: str
    target_url: str  # the target's endpoint as `endpoint_of` shows it: never a credential
    target_environment: str
    max_rps: float
    expires: datetime  # UTC
    approved_by: str
    issued_at: datetime  # UTC
    key_id: str
    signature: str  # base64 of the 64-byte Ed25519 signature
    path: Path | None = field(default=None, compare=False)
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # field -> file line

    def signed_fields(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "profile_hash": self.profile_hash,
            "profile_name": self.profile_name,
            "target": self.target,
            "target_url": self.target_url,
            "target_environment": self.target_environment,
            "max_rps": _number(self.max_rps),
            "expires": utc_text(self.expires),
            "approved_by": self.approved_by,
            "issued_at": utc_text(self.issued_at),
            "key_id": self.key_id,
        }

    def to_json(self) -> bytes:
        body = {**self.signed_fields(), "signature": self.signature}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_of(url: str) -> str:
    """`scheme://host[:port]/path` of a target URL: what an approval binds and what refusals
    print. Userinfo and query (where credentials hide) are dropped, never stored or shown;
    the default port and a trailing `/` are dropped so equal endpoints compare equal."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "<unparsable url>"
    if not parts.scheme or not parts.hostname:
        return url if url == "local" else "<unparsable url>"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host += f":{port}"
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"


def _number(value: float) -> float | int:
    """`150.0` and `150` sign alike; huge values stay floats (JSON ints are 64-bit)."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def canonical_bytes(approval: Approval) -> bytes:
    """What is signed: every field but the signature, in one fixed serialization."""
    return orjson.dumps(approval.signed_fields(), option=orjson.OPT_SORT_KEYS)


def approval_path(profile_path: Path) -> Path:
    """Where the approval of `profile_path` lives: `<stem>.approval.json` beside it."""
    return profile_path.with_name(profile_path.stem + SUFFIX)


def keygen() -> tuple[bytes, str]:
    """A new key pair: (private key as unencrypted PKCS#8 PEM, raw public key as base64)."""
    # cryptography (~10-20 ms to import) only where a key is handled: `loadgen lint` of a
    # profile without an approval, or reading an approval, never pays for it.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_key_b64(private.public_key())


def public_key_b64(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization  # on use: see keygen

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(public_b64: str) -> str:
    """A short fingerprint of a public key: `ed25519:` + 16 hex digits of its sha256."""
    raw = base64.b64decode(public_b64, validate=True)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization  # on use: see keygen
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the private key is not an Ed25519 key")
    return key


def sign(
    plan: Plan,
    max_rps: float,
    expires: datetime,
    approver: str,
    private_key_pem: bytes,
    *,
    now: datetime | None = None,
) -> Approval:
    """Sign an approval of the plan's profile on its target (the target's name, endpoint and
    environment) up to `max_rps` requests/s. The guard's other rules are the caller's (see
    `signing`)."""
    issued = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if expires.tzinfo is None:
        raise ValueError("expires needs a time zone (e.g. 2026-12-31T18:00:00+01:00)")
    if expires <= issued:
        raise ValueError(f"expires ({utc_text(expires)}) must be after now ({utc_text(issued)})")
    if not approver.strip():
        raise ValueError("the approver's name is required")
    if not math.isfinite(max_rps) or max_rps <= 0:
        raise ValueError(f"max_rps must be a positive number of requests/s, not {max_rps}")
    profile, target, peak = plan.profile, plan.target, plan.schedule.peak_rate
    if not max_rps >= peak:
        raise ValueError(
            f"max_rps {max_rps:g} is below the profile's peak of {peak:g} req/s: "
            "the approval would never be valid"
        )
    key = load_private_key(private_key_pem)
    unsigned = Approval(
        profile_hash=profile.content_hash,
        profile_name=profile.name,
        target=target.name,
        target_url=endpoint_of(target.url),
        target_environment=target.environment,
        max_rps=float(max_rps),
        expires=expires.astimezone(UTC),
        approved_by=approver.strip(),
        issued_at=issued,
        key_id=key_id(public_key_b64(key.public_key())),
        signature="",
    )
    signature = base64.b64encode(key.sign(canonical_bytes(unsigned))).decode()
    return replace(unsigned, signature=signature)


def write_approval(approval: Approval, path: Path) -> None:
    path.write_bytes(approval.to_json())


def load_approval(path: Path) -> Approval:
    """Read and check an approval file; raise `ApprovalError` naming each bad field."""
    try:
        text = read_input(path, "approval")
    except UnreadableInput as exc:
        raise _error(path, {}, "", exc.message, exc.fix) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _error(path, {}, "", f"not JSON: {exc}", "restore the file as signed") from None
    every_line = _key_lines(text)
    lines = {key: found[0] for key, found in every_line.items()}
    if not isinstance(data, dict):
        raise _error(path, lines, "", "must be a JSON object", "restore the file as signed")
    reader = _FieldReader(path, lines, data)
    reader.duplicates(_duplicate_keys(text), every_line)
    if data.get("format") in OLD_FORMATS:
        reader.old_format(str(data["format"]))
        raise ApprovalError(reader.problems)
    approval = reader.approval()
    if reader.problems:
        raise ApprovalError(reader.problems)
    return approval


def _key_lines(text: str) -> dict[str, list[int]]:
    """Every line each key appears on: approval files are flat JSON, one field per line."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for name in _FIELD_KEY.findall(line):
            found.setdefault(name, []).append(number)
    return found


def _duplicate_keys(text: str) -> list[str]:
    """Keys given twice in one object. orjson keeps the last one, other readers the first,
    so a signed `"max_rps": 160` could sit behind a `"max_rps": 100000` that a person or
    another tool believes. orjson cannot report them, hence `json` with a pairs hook."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        return dict(items)

    # orjson accepted the text, so it parses; what only `json` balks at (nesting deeper than
    # it recurses, its integer digit limit) is no approval anyway: the field checks refuse it
    with contextlib.suppress(RecursionError, ValueError):
        json.loads(text, object_pairs_hook=pairs)
    return repeated


def _error(
    path: Path, lines: dict[str, int], key: str, message: str, fix: str | None
) -> ApprovalError:
    return ApprovalError([Problem(key, message, str(path), lines.get(key), None, fix)])


class _FieldReader:
    """Collects a problem for every missing, unknown or ill-typed field."""

    def __init__(self, path: Path, lines: dict[str, int], data: dict[str, Any]) -> None:
        self.path, self.lines, self.data = path, lines, data
        self.problems: list[Problem] = []

    def problem(
        self, key: str, message: str, value: object = None, line: int | None = None
    ) -> None:
        fix = "approval files are written by `loadgen approve sign`; do not edit them"
        at = line if line is not None else self.lines.get(key)
        self.problems.append(Problem(key, message, str(self.path), at, value, fix))

    def duplicates(self, keys: list[str], every_line: dict[str, list[int]]) -> None:
        for key in keys:
            found = every_line.get(key, [])
            where = f" (lines {', '.join(map(str, found))})" if len(found) > 1 else ""
            message = (
                f"field {key!r} is given more than once{where}: readers disagree on which "
                "value counts, so the file is refused"
            )
            self.problem(key, message, line=found[-1] if found else None)

    def old_format(self, name: str) -> None:
        self.problems.append(
            Problem(
                "format",
                f"{name} approvals bind only the target's name, not its URL and "
                f"environment; this loadgen accepts {FORMAT} only",
                str(self.path),
                self.lines.get("format"),
                name,
                "have the pipeline team sign it again (loadgen approve sign)",
            )
        )

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "missing or not a non-empty string", value)
            return ""
        return value

    def moment(self, key: str) -> datetime:
        text = self.text(key)
        moment = _aware_utc(text)
        if moment is None:
            if text:
                self.problem(key, "must be an ISO 8601 date-time with a time zone", text)
            return datetime.min.replace(tzinfo=UTC)
        return moment

    def rate(self, key: str) -> float:
        value = self.data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf:
            return float(value)
        self.problem(key, "must be a positive number of requests/s", value)
        return 0.0

    def approval(self) -> Approval:
        for key in self.data:
            if key not in FIELDS:
                self.problem(
                    key, f"unknown field {key!r}: an approval has only {', '.join(FIELDS)}"
                )
        if self.data.get("format") != FORMAT:
            self.problem("format", f"must be {FORMAT!r}", self.data.get("format"))
        signature = self.text("signature")
        if signature and not _is_signature(signature):
            self.problem("signature", "must be the base64 of a 64-byte Ed25519 signature")
        return Approval(
            profile_hash=self.text("profile_hash"),
            profile_name=self.text("profile_name"),
            target=self.text("target"),
            target_url=self.text("target_url"),
            target_environment=self.text("target_environment"),
            max_rps=self.rate("max_rps"),
            expires=self.moment("expires"),
            approved_by=self.text("approved_by"),
            issued_at=self.moment("issued_at"),
            key_id=self.text("key_id"),
            signature=signature,
            path=self.path,
            lines=self.lines,
        )


def _aware_utc(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):  # overflow: 9999-12-31T23:00-05:00 is past year 9999
        return None


def _is_signature(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) == 64
    except (binascii.Error, ValueError):
        return False
