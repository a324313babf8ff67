"""`loadgen approve sign` and forged approvals through the real CLI (issue 9, section 4):
signing refuses what `run` refuses, warns about an untrusted key, shows the expiry as
every command does; `run` refuses the approvals that used to get through."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from loadgen.arrivals.plan import Plan
from loadgen.guard.approvals import (
    Approval,
    approval_path,
    key_id,
    keygen,
    load_approval,
    sign,
    write_approval,
)
from loadgen.guard.expiry import expiry_text, parse_expiry
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import load_targets
from tests.run_support import CliResult, cli, expiry, profile, write_profile, write_targets
from tests.run_support import target as target_table

PRIVATE, PUBLIC = keygen()
_, STRANGER = keygen()
URL = "https://capture.example.com"  # never contacted: sign, lint, brief and --dry-run send nothing
OVER_LIMIT = profile("over", start_rate=0, stages=[("15s", 150), ("10s", 150)])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_targets(
        tmp_path,
        staging=target_table(URL, trusted_keys=[PUBLIC]),
        nobody=target_table(URL),
        stranger=target_table(URL, trusted_keys=[STRANGER]),
        prod={**target_table(URL, trusted_keys=[PUBLIC]), "environment": "production"},
    )
    (tmp_path / "pipeline.pem").write_bytes(PRIVATE)
    return tmp_path


def sign_cli(workdir: Path, path: Path, target: str, *extra: str) -> CliResult:
    args = ["--max-rps", "158", "--expires", expiry(), "--by", "Pipeline Pat"]
    return cli(
        "approve", "sign", path, "-t", target, *args, "--key", workdir / "pipeline.pem", *extra
    )


def refusal_lines(stderr: str, rule: str) -> list[str]:
    """The lines of the refusal message (`  - file:line: [rule] ...`) that name `rule`."""
    return [line for line in stderr.splitlines() if line.startswith("  - ") and f"[{rule}]" in line]


# (the profile, the target, the refusal no approval can cover)
UNSIGNABLE: list[tuple[dict[str, Any], str, str]] = [
    # 0 -> 150 req/s in 1 s: the slope is 150 req/s per second, never approvable
    (profile("spike", start_rate=0, stages=[("1s", 150), ("30s", 150)]), "staging", "spike.slope"),
    # flat at its peak from the first second: a denial of service, not a load test
    (profile("flat", start_rate=150, stages=[("30s", 150)]), "staging", "spike.flat-at-peak"),
    # a production target must be told whether apps process the events
    ({**OVER_LIMIT, "apps_enabled": None}, "prod", "apps.missing-for-production"),
]


@pytest.mark.parametrize(("data", "target", "rule"), UNSIGNABLE)
def test_sign_refuses_what_no_approval_covers_as_run_does(
    workdir: Path, data: dict[str, Any], target: str, rule: str
) -> None:
    data = {k: v for k, v in data.items() if v is not None}
    path = write_profile(workdir, data)
    signed = sign_cli(workdir, path, target)
    assert signed.returncode == 4, signed.explain()
    assert signed.stderr.startswith("loadgen: refused: ")
    assert "no approval can cover these" in signed.stderr
    assert not approval_path(path).exists()
    ran = cli("run", path, "-t", target, "--dry-run")
    assert ran.returncode == 4, ran.explain()
    (line,) = refusal_lines(ran.stderr, rule)
    assert refusal_lines(signed.stderr, rule) == [line]  # word for word what run says
    assert "limit.workspace-rps" not in signed.stderr  # that one an approval does cover


# (the target, does it trust the signing key?)
TRUST = [
    ("staging", True),  # lists the signer's key: no warning
    ("nobody", False),  # trusts no key at all
    ("stranger", False),  # trusts another team's key only
]


@pytest.mark.parametrize(("target", "trusted"), TRUST)
def test_sign_warns_when_the_target_does_not_trust_the_key(
    workdir: Path, target: str, trusted: bool
) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    result = sign_cli(workdir, path, target)
    assert result.returncode == 0, result.explain()
    assert approval_path(path).exists()
    warning = (
        f"loadgen: warning: target {target!r} does not trust the signing key {key_id(PUBLIC)} yet"
    )
    warned = [line for line in result.stderr.splitlines() if "warning" in line]
    if trusted:
        assert warned == []
    else:
        assert warned and warned[0].startswith(warning), result.stderr
        assert f"trusted_keys of [targets.{target}]" in result.stderr
        assert PUBLIC in result.stderr  # the public key to add, ready to paste


def test_sign_lint_and_brief_show_the_expiry_alike(workdir: Path) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    day = expiry()
    shown = expiry_text(parse_expiry(day))
    assert shown.startswith(f"the end of {day} UTC (")
    signed = sign_cli(workdir, path, "staging")
    assert signed.returncode == 0, signed.explain()
    assert signed.stderr.splitlines()[0].endswith(f"valid until {shown}")
    stored = orjson.loads(approval_path(path).read_bytes())["expires"]
    assert shown.endswith(f"({stored})")  # the file's instant, shown beside the day
    linted = cli("lint", path, "-t", "staging")
    assert linted.returncode == 0, linted.explain()
    assert f"until {shown}" in linted.stdout
    briefed = cli("brief", path, "-t", "staging")
    assert briefed.returncode == 0, briefed.explain()
    assert f"until {shown}" in briefed.stdout and "lower the peak" not in briefed.stdout


def _signed(workdir: Path, path: Path, target: str, now: datetime) -> Approval:
    tgt = load_targets(workdir / "targets.toml")[target]
    expires = now + timedelta(days=7)
    return sign(Plan.build(load_profile(path), tgt), 158, expires, "Pipeline Pat", PRIVATE, now=now)


def _duplicate_peak(workdir: Path, path: Path) -> None:
    approval = _signed(workdir, path, "staging", datetime.now(UTC))
    text = approval.to_json().decode().replace('  "max_rps"', '  "max_rps": 100000,\n  "max_rps"')
    approval_path(path).write_text(text)


def _issued_tomorrow(workdir: Path, path: Path) -> None:
    approval = _signed(workdir, path, "staging", datetime.now(UTC) + timedelta(days=1))
    write_approval(approval, approval_path(path))


def _retarget(workdir: Path, **changes: str) -> None:
    text = (workdir / "targets.toml").read_text()
    start = text.index("[targets.staging]")
    head, body = text[:start], text[start:]
    for old, new in changes.items():
        body = body.replace(old, new, 1)
    (workdir / "targets.toml").write_text(head + body)


def _url_moved(workdir: Path, path: Path) -> None:
    write_approval(_signed(workdir, path, "staging", datetime.now(UTC)), approval_path(path))
    _retarget(workdir, **{URL: "https://eu.capture.example.com"})


def _turned_production(workdir: Path, path: Path) -> None:
    write_approval(_signed(workdir, path, "staging", datetime.now(UTC)), approval_path(path))
    _retarget(workdir, **{'environment = "staging"': 'environment = "production"'})


def _old_format(workdir: Path, path: Path) -> None:
    approval = _signed(workdir, path, "staging", datetime.now(UTC))
    doc = orjson.loads(approval.to_json())
    doc["format"] = "loadgen-approval/1"
    del doc["target_url"], doc["target_environment"]
    approval_path(path).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


# (how the approval is bent, the rule that refuses it, words the refusal must hold)
FORGED: list[tuple[Callable[[Path, Path], None], str, str]] = [
    # a second max_rps above the signed one: the signature verifies, readers disagree
    (_duplicate_peak, "approval.malformed", "field 'max_rps' is given more than once"),
    # issued tomorrow: the start of validity is checked, beyond 5 minutes of skew
    (_issued_tomorrow, "approval.not-yet-valid", "in the future"),
    # the target now points elsewhere: the approval was for the old endpoint
    (
        _url_moved,
        "approval.other-url",
        f"for url {URL}, target 'staging' now points at https://eu.",
    ),
    # staging turned production: a staging approval does not cover it
    (_turned_production, "approval.other-environment", "is now production"),
    # an approval of the old format binds only the name: sign it again
    (_old_format, "approval.malformed", "sign it again"),
]


@pytest.mark.parametrize(("bend", "rule", "words"), FORGED)
def test_run_refuses_bent_approvals(
    workdir: Path, bend: Callable[[Path, Path], None], rule: str, words: str
) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    bend(workdir, path)
    result = cli("run", path, "-t", "staging", "--dry-run")
    assert result.returncode == 4, result.explain()
    lines = refusal_lines(result.stderr, rule)
    assert lines and any(words in line for line in lines), result.stderr


def test_an_untouched_approval_runs(workdir: Path) -> None:
    """The control for the table above: the same approval, unbent, is accepted."""
    path = write_profile(workdir, OVER_LIMIT)
    approval = _signed(workdir, path, "staging", datetime.now(UTC))
    write_approval(approval, approval_path(path))
    assert load_approval(approval_path(path)) == approval
    result = cli("run", path, "-t", "staging", "--dry-run")
    assert result.returncode == 0 and "guard: ok" in result.stdout, result.explain()


# (what --key names, words of the usage error)
BAD_KEYS = [
    ("missing.pem", "private key file not found"),  # a typo in the path
    ("/dev/zero", "not a regular file"),  # read bounded: it must not grow until memory ends
    ("targets.toml", "not an unencrypted PEM private key"),  # a file, but no key
]


@pytest.mark.parametrize(("key", "words"), BAD_KEYS)
def test_sign_with_an_unusable_key_is_a_usage_error(workdir: Path, key: str, words: str) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    args: list[str | Path] = ["--max-rps", "158", "--expires", expiry(), "--by", "Pat"]
    args += ["--key", workdir / key]
    result = cli("approve", "sign", path, "-t", "staging", *args)
    assert result.returncode == 2, result.explain()
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not approval_path(path).exists()


def test_sign_for_the_builtin_local_target_says_it_trusts_no_key(workdir: Path) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    result = sign_cli(workdir, path, "local")
    assert result.returncode == 0, result.explain()
    assert "loadgen: warning: the built-in target 'local' trusts no signing key" in result.stderr
    assert "[targets.local]" not in result.stderr  # it cannot be redefined in targets.toml
