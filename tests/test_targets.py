"""targets.toml: lookup order, strictness, credentials as env var names, the built-in local."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.errors import TargetError
from loadgen.targets import (
    BUILTIN_LOCAL,
    LOCAL,
    find_targets_file,
    load_targets,
    resolve_target,
)

GOOD = """\
[targets.staging]
url = "https://capture.staging.example.com/"
api = "posthog"
environment = "staging"
workspace_rps_limit = 250
trusted_keys = ["AAAA"]
credentials = { token = "POSTHOG_TOKEN" }

[targets.staging.guard]
max_slope_rps_per_s = 20

[targets.cio]
url = "http://127.0.0.1:9"
api = "customerio"
environment = "production"
[targets.cio.credentials]
site_id = "CIO_SITE_ID"
api_key = "CIO_API_KEY"
"""


def write(tmp: Path, text: str) -> Path:
    path = tmp / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_targets_with_defaults_and_overrides(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path, GOOD))
    staging = targets["staging"]
    assert staging.url == "https://capture.staging.example.com"
    assert staging.limits.workspace_rps_limit == 250
    assert staging.limits.max_slope_rps_per_s == 20
    assert staging.limits.max_start_fraction == 0.10  # untouched default
    assert staging.transport == "auto"
    assert targets["cio"].environment == "production"
    assert targets[LOCAL] is BUILTIN_LOCAL


def test_local_always_exists_even_without_a_file() -> None:
    assert load_targets(None) == {LOCAL: BUILTIN_LOCAL}


def test_credentials_resolve_from_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = load_targets(write(tmp_path, GOOD))["staging"]
    monkeypatch.delenv("POSTHOG_TOKEN", raising=False)
    with pytest.raises(TargetError, match="POSTHOG_TOKEN") as info:
        staging.credential_values("posthog")
    monkeypatch.setenv("POSTHOG_TOKEN", "phc_secret_value")
    assert staging.credential_values("posthog") == {"token": "phc_secret_value"}
    assert "phc_secret_value" not in str(info.value)


# (replacement in GOOD, key path named, words in the message)
BAD = [
    (
        'token = "POSTHOG_TOKEN"',
        'token = "phc_abc def"',
        "targets.staging.credentials.token",
        "NAME of an environment variable",
    ),
    ('api = "posthog"', 'api = "posthgo"', "targets.staging.api", "did you mean"),
    (
        "workspace_rps_limit = 250",
        "workspace_rps_limit = -1",
        "targets.staging.workspace_rps_limit",
        "above 0",
    ),
    ('url = "http://127.0.0.1:9"', 'url = "ftp://x"', "targets.cio.url", "http://"),
    ('environment = "production"', 'environment = "prod"', "targets.cio.environment", "production"),
    ("max_slope_rps_per_s = 20", "max_slop = 20", "targets.staging.guard.max_slop", "did you mean"),
]


@pytest.mark.parametrize(("old", "new", "path", "words"), BAD)
def test_bad_targets_are_named(tmp_path: Path, old: str, new: str, path: str, words: str) -> None:
    with pytest.raises(TargetError) as info:
        load_targets(write(tmp_path, GOOD.replace(old, new, 1)))
    found = [p for p in info.value.problems if p.path == path]
    assert found, info.value
    assert words in found[0].render()
    assert found[0].line is not None


def test_local_cannot_be_redefined(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="built in"):
        load_targets(
            write(tmp_path, '[targets.local]\nurl = "http://127.0.0.1:1"\napi = "posthog"\n')
        )


def test_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path, GOOD))
    with pytest.raises(TargetError, match="unknown target 'prod'") as info:
        resolve_target("prod", targets, tmp_path / "targets.toml")
    assert "cio, local, staging" in str(info.value)


def test_lookup_order_explicit_then_beside_profile_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile_dir, cwd = tmp_path / "p", tmp_path / "cwd"
    profile_dir.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    profile = profile_dir / "x.toml"
    assert find_targets_file(profile, None) is None
    (cwd / "targets.toml").write_text("")
    assert find_targets_file(profile, None) == cwd / "targets.toml"
    (profile_dir / "targets.toml").write_text("")
    assert find_targets_file(profile, None) == profile_dir / "targets.toml"
    assert find_targets_file(profile, tmp_path / "other.toml") == tmp_path / "other.toml"


def test_safety_window_must_be_positive(tmp_path: Path) -> None:
    text = GOOD.replace("max_slope_rps_per_s = 20", 'safety_window = "0s"')
    with pytest.raises(TargetError, match="safety_window: must be longer than zero"):
        load_targets(write(tmp_path, text))
