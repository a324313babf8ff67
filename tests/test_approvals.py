"""Signed approvals: keys, signing, the file, and each way an approval is void."""

from __future__ import annotations

import base64
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from loadgen.arrivals.plan import Plan
from loadgen.guard.approvals import (
    Approval,
    ApprovalError,
    approval_path,
    key_id,
    keygen,
    load_approval,
    load_private_key,
    sign,
    write_approval,
)
from loadgen.guard.expiry import parse_expiry
from loadgen.guard.verification import verify
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import Target
from tests.guard_support import NOW, stages, target, write_profile

PRIVATE, PUBLIC = keygen()
OTHER_PRIVATE, OTHER_PUBLIC = keygen()
EXPIRES = NOW + timedelta(days=7)
PEAK_120 = {"start_rate": 0, "stages": stages((12, 120), (60, 120))}


def prod(*keys: str) -> Target:
    return target("production", trusted_keys=keys or (PUBLIC,))


def signed(profile: Profile, max_rps: float = 150, key: bytes = PRIVATE) -> Approval:
    return sign(Plan.build(profile, prod()), max_rps, EXPIRES, "Pipeline Pat", key, now=NOW)


def failures(
    approval: Approval, profile: Profile, tgt: Target | None = None, now: datetime = NOW
) -> list[str]:
    check = verify(approval, Plan.build(profile, tgt or prod()), now)
    return [f.rule for f in check.failures]


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return load_profile(write_profile(tmp_path, load=PEAK_120))


def test_keygen_gives_a_raw_ed25519_key_and_a_short_id() -> None:
    assert len(base64.b64decode(PUBLIC)) == 32
    load_private_key(PRIVATE)  # a usable PKCS#8 PEM
    assert key_id(PUBLIC).startswith("ed25519:") and len(key_id(PUBLIC)) == 8 + 16
    assert key_id(PUBLIC) != key_id(OTHER_PUBLIC)


def test_sign_and_verify_through_the_file(profile: Profile) -> None:
    approval = signed(profile)
    path = approval_path(profile.path)
    assert path.name == "p.approval.json" and path.parent == profile.path.parent
    write_approval(approval, path)
    loaded = load_approval(path)
    assert loaded == approval
    assert failures(loaded, profile) == []
    doc = orjson.loads(path.read_bytes())
    assert doc["expires"] == "2026-11-27T12:00:00Z" and doc["max_rps"] == 150


def test_layout_of_the_file_does_not_matter(profile: Profile) -> None:
    path = approval_path(profile.path)
    doc = orjson.loads(signed(profile).to_json())
    doc["expires"] = "2026-11-27T13:00:00+01:00"  # the same instant, another offset
    doc["max_rps"] = 150.0  # the same number
    path.write_text(orjson.dumps(dict(reversed(doc.items()))).decode())  # one line, reordered
    assert failures(load_approval(path), profile) == []


def test_comment_edit_keeps_it_value_edit_voids_it(profile: Profile) -> None:
    approval = signed(profile)
    text = profile.path.read_text()
    profile.path.write_text("# reviewed by the pipeline team\n" + text.replace(" = ", "   =   "))
    assert failures(approval, load_profile(profile.path)) == []  # comments and layout
    profile.path.write_text(text.replace('description = "guard test profile"', 'description = "x"'))
    assert failures(approval, load_profile(profile.path)) == ["approval.profile-edited"]


def test_another_target(profile: Profile) -> None:
    approval = sign(
        Plan.build(profile, replace(prod(), name="staging-eu")),
        150,
        EXPIRES,
        "Pat",
        PRIVATE,
        now=NOW,
    )
    assert failures(approval, profile) == ["approval.other-target"]


def test_higher_peak_than_approved(tmp_path: Path, profile: Profile) -> None:
    approval = signed(profile, max_rps=120)  # exactly the peak: valid
    assert failures(approval, profile) == []
    higher = load_profile(write_profile(tmp_path, load={"stages": stages((12, 121), (60, 121))}))
    assert failures(approval, higher) == ["approval.profile-edited", "approval.peak-above-approved"]


def test_signing_below_the_peak_is_refused(profile: Profile) -> None:
    with pytest.raises(ValueError, match="below the profile's peak of 120"):
        signed(profile, max_rps=119)


# (now relative to the expiry, expired?)
EXPIRY = [
    (timedelta(seconds=-1), False),  # one second before: still valid
    (timedelta(0), True),  # at the expiry instant it is void
    (timedelta(days=1), True),
]


@pytest.mark.parametrize(("offset", "expired"), EXPIRY)
def test_expiry(profile: Profile, offset: timedelta, expired: bool) -> None:
    found = failures(signed(profile), profile, now=EXPIRES + offset)
    assert found == (["approval.expired"] if expired else [])


def test_untrusted_key(profile: Profile) -> None:
    assert failures(signed(profile, key=OTHER_PRIVATE), profile) == ["approval.untrusted-key"]
    # once the target trusts that key too, it verifies
    assert failures(signed(profile, key=OTHER_PRIVATE), profile, prod(PUBLIC, OTHER_PUBLIC)) == []


def test_a_target_without_trusted_keys_can_never_be_approved(profile: Profile) -> None:
    nobody = target("production", trusted_keys=())
    assert failures(signed(profile), profile, nobody) == ["approval.no-trusted-keys"]


def test_tampering_breaks_the_signature(profile: Profile) -> None:
    approval = signed(profile)
    raised = replace(approval, max_rps=10_000.0)  # a bigger peak, written in by hand
    assert failures(raised, profile) == ["approval.bad-signature"]
    later = replace(approval, expires=approval.expires + timedelta(days=365))
    assert failures(later, profile) == ["approval.bad-signature"]
    raw = bytearray(base64.b64decode(approval.signature))
    raw[0] ^= 1
    flipped = replace(approval, signature=base64.b64encode(bytes(raw)).decode())
    assert failures(flipped, profile) == ["approval.bad-signature"]
    # signed by an untrusted key but claiming the trusted key's id: a forgery
    forged = replace(signed(profile, key=OTHER_PRIVATE), key_id=approval.key_id)
    assert failures(forged, profile) == ["approval.bad-signature"]


def test_verify_messages_name_the_problem(tmp_path: Path, profile: Profile) -> None:
    approval = sign(
        Plan.build(profile, replace(prod(), name="elsewhere")),
        120,
        EXPIRES,
        "Pat",
        PRIVATE,
        now=NOW,
    )
    higher = load_profile(write_profile(tmp_path, load={"stages": stages((13, 130), (60, 130))}))
    check = verify(approval, Plan.build(higher, prod()), EXPIRES)
    messages = {f.rule: f.message for f in check.failures}
    assert "for target 'elsewhere', not 'prod'" in messages["approval.other-target"]
    assert "edited after it was approved" in messages["approval.profile-edited"]
    assert "peaks at 130 req/s, above the approved 120" in messages["approval.peak-above-approved"]
    assert "expired at 2026-11-27T12:00:00Z" in messages["approval.expired"]
    assert not check.valid


def _doc(profile: Profile) -> dict[str, object]:
    return dict(orjson.loads(signed(profile).to_json()))


# (how the file is broken, the field the error names)
MALFORMED = [
    (lambda d: d.pop("max_rps"), "max_rps"),  # a missing field
    (lambda d: d.update(max_rps="lots"), "max_rps"),  # the wrong type
    (lambda d: d.update(max_rps=True), "max_rps"),  # booleans are not numbers
    (lambda d: d.update(max_rps=0), "max_rps"),  # a peak of zero approves nothing
    (lambda d: d.update(expires="next tuesday"), "expires"),  # an unreadable date
    (lambda d: d.update(expires="2026-12-01T10:00:00"), "expires"),  # no time zone
    (lambda d: d.update(signature="not base64!"), "signature"),
    (lambda d: d.update(approve_all=True), "approve_all"),  # an unknown field
    (lambda d: d.update(format="loadgen-approval/9"), "format"),
]


@pytest.mark.parametrize(("breakage", "field"), MALFORMED)
def test_malformed_files_name_the_field(profile: Profile, breakage: object, field: str) -> None:
    doc = _doc(profile)
    breakage(doc)  # type: ignore[operator]
    path = approval_path(profile.path)
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    with pytest.raises(ApprovalError) as info:
        load_approval(path)
    (problem,) = info.value.problems
    assert problem.path == field and problem.file == str(path)
    if field in doc:  # the line of the field in the file
        assert problem.line is not None
        assert f'"{field}"' in path.read_text().splitlines()[problem.line - 1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),  # no file at all
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "p.approval.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ApprovalError, match=message):
        load_approval(path)


# (text, the instant it means)
EXPIRY_TEXT = [
    ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC)),  # a date is valid through that UTC day
    ("2026-12-31T18:00:00+01:00", datetime(2026, 12, 31, 17, tzinfo=UTC)),
    ("2026-12-31T18:00:00Z", datetime(2026, 12, 31, 18, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "moment"), EXPIRY_TEXT)
def test_parse_expiry(text: str, moment: datetime) -> None:
    assert parse_expiry(text) == moment


@pytest.mark.parametrize("text", ["2026-12-31T18:00:00", "soon", ""])
def test_parse_expiry_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="time zone|unreadable"):
        parse_expiry(text)


def test_sign_refuses_nonsense(profile: Profile) -> None:
    with pytest.raises(ValueError, match="after now"):
        sign(Plan.build(profile, prod()), 150, NOW - timedelta(seconds=1), "Pat", PRIVATE, now=NOW)
    with pytest.raises(ValueError, match="time zone"):
        sign(Plan.build(profile, prod()), 150, datetime(2027, 1, 1), "Pat", PRIVATE, now=NOW)
    with pytest.raises(ValueError, match="approver"):
        sign(Plan.build(profile, prod()), 150, EXPIRES, "  ", PRIVATE, now=NOW)
    with pytest.raises(ValueError, match="positive number"):
        sign(Plan.build(profile, prod()), math.inf, EXPIRES, "Pat", PRIVATE, now=NOW)
    with pytest.raises(ValueError, match="PEM"):
        sign(Plan.build(profile, prod()), 150, EXPIRES, "Pat", b"not a key", now=NOW)
