"""Approvals cannot be bent (issue 9, section 4): the validity start, duplicate and unknown
keys, and the binding to the target's URL and environment, each refused with its message."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.guard.approvals import (
    CLOCK_SKEW,
    FORMAT,
    Approval,
    ApprovalError,
    approval_path,
    endpoint_of,
    keygen,
    load_approval,
    sign,
    write_approval,
)
from loadgen.guard.verification import verify
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import Target
from tests.guard_support import NOW, stages, target, write_profile

PRIVATE, PUBLIC = keygen()
PEAK_120 = {"start_rate": 0, "stages": stages((12, 120), (60, 120))}


def prod(url: str = "https://capture.example.com") -> Target:
    return replace(target("production", trusted_keys=(PUBLIC,)), url=url)


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return load_profile(write_profile(tmp_path, load=PEAK_120))


def approve(
    profile: Profile, tgt: Target | None = None, issued_in: timedelta = timedelta(0)
) -> Approval:
    """An approval signed on a clock `issued_in` ahead of the verifier's NOW."""
    signer_now = NOW + issued_in
    expires = signer_now + timedelta(days=7)
    return sign(
        Plan.build(profile, tgt or prod()), 150, expires, "Pipeline Pat", PRIVATE, now=signer_now
    )


def rules(approval: Approval, profile: Profile, tgt: Target | None = None) -> list[str]:
    return [f.rule for f in verify(approval, Plan.build(profile, tgt or prod()), NOW).failures]


# (how far the signer's clock was ahead of the verifier's, refused as not yet valid?)
ISSUED = [
    (timedelta(0), False),  # the ordinary case: signed on the same clock
    (-timedelta(days=1), False),  # signed yesterday
    (timedelta(minutes=4, seconds=59), False),  # a clock a little behind the signer's
    (CLOCK_SKEW, False),  # exactly the allowed skew still passes
    (CLOCK_SKEW + timedelta(seconds=1), True),  # one second beyond it is refused
    (timedelta(days=365), True),  # a forged issue date a year ahead
]


@pytest.mark.parametrize(("ahead", "refused"), ISSUED)
def test_issued_in_the_future_is_refused(profile: Profile, ahead: timedelta, refused: bool) -> None:
    assert rules(approve(profile, issued_in=ahead), profile) == (
        ["approval.not-yet-valid"] if refused else []
    )


def test_not_yet_valid_says_when_and_the_skew(profile: Profile) -> None:
    approval = approve(profile, issued_in=timedelta(hours=2))
    (failure,) = verify(approval, Plan.build(profile, prod()), NOW).failures
    assert failure.field == "issued_at"
    assert "issued at 2026-11-20T14:00:00Z, in the future" in failure.message
    assert "now is 2026-11-20T12:00:00Z" in failure.message
    assert "5 minutes" in failure.message and "clock" in failure.fix


def _signed_text(profile: Profile) -> str:
    return approve(profile).to_json().decode()


def _insert_before(text: str, key: str, line: str) -> str:
    """`line` added just above the line of `key` (the file is one field per line)."""
    out = []
    for row in text.splitlines():
        if row.lstrip().startswith(f'"{key}"'):
            out.append(line)
        out.append(row)
    return "\n".join(out) + "\n"


def _problems(profile: Profile, text: str) -> list[tuple[str, str, int | None]]:
    path = approval_path(profile.path)
    path.write_text(text)
    with pytest.raises(ApprovalError) as info:
        load_approval(path)
    return [(p.path, p.message, p.line) for p in info.value.problems]


# (the line added above `key`, the key the refusal names)
DUPLICATES = [
    # the attack: a huge peak above the signed 150, which first-wins readers believe
    ("max_rps", '  "max_rps": 100000,', "max_rps"),
    # a later expiry above the signed one: orjson keeps the signed value, people read the first
    ("expires", '  "expires": "2099-01-01T00:00:00Z",', "expires"),
    # the same value twice is still refused: a signed file has each field once
    ("target", '  "target": "prod",', "target"),
    # an escaped spelling of the same key is the same key once decoded
    ("max_rps", '  "max\\u005frps": 100000,', "max_rps"),
]


@pytest.mark.parametrize(("above", "line", "key"), DUPLICATES)
def test_duplicate_keys_are_refused(profile: Profile, above: str, line: str, key: str) -> None:
    text = _insert_before(_signed_text(profile), above, line)
    found = _problems(profile, text)
    (dup,) = [p for p in found if "more than once" in p[1]]
    assert dup[0] == key and f"field {key!r} is given more than once" in dup[1]
    rows = [n for n, t in enumerate(text.splitlines(), 1) if t.lstrip().startswith(f'"{key}"')]
    if len(rows) == 2:  # both spellings are plain: the message names both lines
        assert f"(lines {rows[0]}, {rows[1]})" in dup[1] and dup[2] == rows[1]


def test_without_the_check_the_duplicate_would_pass(profile: Profile) -> None:
    """The premise: orjson keeps the signed last value, so the signature alone verifies."""
    text = _insert_before(_signed_text(profile), "max_rps", '  "max_rps": 100000,')
    assert orjson.loads(text)["max_rps"] == 150


def test_unknown_key_names_the_key_and_its_line(profile: Profile) -> None:
    text = _insert_before(_signed_text(profile), "signature", '  "approve_all": true,')
    ((key, message, line),) = _problems(profile, text)
    row = next(n for n, t in enumerate(text.splitlines(), 1) if '"approve_all"' in t)
    assert key == "approve_all" and line == row
    assert "unknown field 'approve_all'" in message


def test_old_format_is_refused_with_a_request_to_sign_again(profile: Profile) -> None:
    doc = orjson.loads(_signed_text(profile))
    doc["format"] = "loadgen-approval/1"
    del doc["target_url"], doc["target_environment"]
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    ((key, message, line),) = _problems(profile, text)  # one clear problem, not three
    assert key == "format" and line == 2
    assert "bind only the target's name" in message and FORMAT in message


# (the target as it is now, the rule that refuses the approval signed for prod())
BINDING = [
    (prod("https://capture.example.com/"), None),  # a trailing slash is the same endpoint
    (prod("https://CAPTURE.example.com:443"), None),  # case of the host, the default port
    (prod("https://user:pass@capture.example.com"), None),  # credentials are not the endpoint
    (prod("https://capture.example.com?token=x"), None),  # nor is a query
    (prod("https://eu.capture.example.com"), "approval.other-url"),  # another host
    (prod("https://capture.example.com:8443"), "approval.other-url"),  # another port
    (prod("http://capture.example.com"), "approval.other-url"),  # another scheme
    (prod("https://capture.example.com/v2"), "approval.other-url"),  # another path
    (replace(prod(), environment="staging"), "approval.other-environment"),
]


@pytest.mark.parametrize(("now_target", "rule"), BINDING)
def test_approval_binds_the_url_and_environment(
    profile: Profile, now_target: Target, rule: str | None
) -> None:
    assert rules(approve(profile), profile, now_target) == ([rule] if rule else [])


def test_staging_approval_does_not_cover_the_target_turned_production(profile: Profile) -> None:
    staging = replace(prod(), environment="staging")
    (failure,) = verify(approve(profile, staging), Plan.build(profile, prod()), NOW).failures
    assert failure.rule == "approval.other-environment"
    assert (
        failure.message == "the approval is for a staging target, target 'prod' is now production"
    )


def test_url_refusal_names_both_endpoints_without_credentials(profile: Profile) -> None:
    approval = approve(profile, prod("https://alice:s3cret@capture.example.com/?token=phc_x"))
    moved = prod("https://bob:hunter2@other.example.com:8443/e/?api_key=phc_y#frag")
    (failure,) = verify(approval, Plan.build(profile, moved), NOW).failures
    assert failure.message == (
        "the approval is for url https://capture.example.com, target 'prod' now points at "
        "https://other.example.com:8443/e"
    )
    shown = failure.message + failure.fix + approval.to_json().decode()
    for secret in ("alice", "s3cret", "phc_x", "bob", "hunter2", "phc_y", "token", "api_key"):
        assert secret not in shown


def test_the_file_stores_the_endpoint_and_environment(profile: Profile, tmp_path: Path) -> None:
    approval = approve(profile, prod("https://u:p@Capture.Example.com:443/?q=1"))
    path = tmp_path / "a.approval.json"
    write_approval(approval, path)
    doc = orjson.loads(path.read_bytes())
    assert doc["format"] == FORMAT == "loadgen-approval/2"
    assert doc["target_url"] == "https://capture.example.com"
    assert doc["target_environment"] == "production"
    assert load_approval(path) == approval
    # both new fields are signed: editing one breaks the signature
    moved = replace(approval, target_url="https://x.example.com")
    assert rules(moved, profile) == ["approval.bad-signature"]
    staged = replace(approval, target_environment="staging")
    assert rules(staged, profile) == ["approval.bad-signature"]


# (a target URL, its endpoint as approvals store and print it)
ENDPOINTS = [
    ("https://capture.example.com", "https://capture.example.com"),  # already plain
    ("HTTPS://Capture.Example.COM/", "https://capture.example.com"),  # case, trailing slash
    ("http://127.0.0.1:80/i/v0", "http://127.0.0.1/i/v0"),  # the default port is dropped
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),  # another port is kept
    ("https://[::1]:8443/x", "https://[::1]:8443/x"),  # IPv6 keeps its brackets
    ("https://k:v@h.example.com/p?token=t#f", "https://h.example.com/p"),  # no secrets
    ("https://h.example.com:99999", "<unparsable url>"),  # a port out of range
    ("local", "local"),  # the embedded mock's marker
]


@pytest.mark.parametrize(("url", "shown"), ENDPOINTS)
def test_endpoint_of(url: str, shown: str) -> None:
    assert endpoint_of(url) == shown


@given(
    user=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=3, max_size=12),
    secret=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=6, max_size=20),
)
def test_endpoint_never_contains_userinfo_or_query(user: str, secret: str) -> None:
    url = f"https://{user}:{secret}@host.example.com/path?token={secret}&u={user}#{secret}"
    shown = endpoint_of(url)
    assert shown == "https://host.example.com/path"
    assert secret not in shown and "@" not in shown and "?" not in shown and "#" not in shown


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    at=st.floats(0, 1),
    cut=st.integers(0, 40),
    junk=st.text(alphabet='{}[]",:0123456789.-eE\\u nultrfas\n', max_size=30),
)
def test_a_mangled_approval_file_is_an_approval_error_or_valid(
    profile: Profile, at: float, cut: int, junk: str
) -> None:
    """Whatever an editor does to the file, loading it never raises anything but the
    project's own input error (no traceback from a hand-edited approval)."""
    text = _signed_text(profile)
    pos = int(at * len(text))
    mangled = text[:pos] + junk + text[pos + cut :]
    path = approval_path(profile.path)
    path.write_text(mangled)
    try:
        loaded = load_approval(path)
    except ApprovalError:
        return
    # still loadable: then it says what it says, and only a faithful copy verifies
    if rules(loaded, profile) == []:
        assert loaded == approve(profile)
