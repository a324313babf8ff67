"""targets.toml: lookup order, strictness, credentials as env var names, the built-in local."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from loadgen.errors import TargetError
from loadgen.guard.lint import lint
from loadgen.inputs.targets import BUILTIN_LOCAL, LOCAL, load_targets, resolve_target
from loadgen.inputs.targets_file import find_targets_file, targets_file_candidates
from tests import run_support
from tests.run_support import write_profile

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
    (  # a value with a space pasted as the name: a secret shape, said so, not shown
        'token = "POSTHOG_TOKEN"',
        'token = "phc_abc def"',
        "targets.staging.credentials.token",
        "looks like a secret value, not a variable name",
    ),
    (  # a lower-case name is a valid shell name but not how credentials are named here
        'token = "POSTHOG_TOKEN"',
        'token = "posthog_token"',
        "targets.staging.credentials.token",
        "NAME of an environment variable",
    ),
    (  # a port out of range was found only when the run started
        'url = "http://127.0.0.1:9"',
        'url = "http://127.0.0.1:99999"',
        "targets.cio.url",
        "port",
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
    assert find_targets_file(profile, None) == Path("targets.toml")  # named relative to the cwd
    (profile_dir / "targets.toml").write_text("")
    assert find_targets_file(profile, None) == profile_dir / "targets.toml"
    assert find_targets_file(profile, tmp_path / "other.toml") == tmp_path / "other.toml"


def test_safety_window_must_be_positive(tmp_path: Path) -> None:
    text = GOOD.replace("max_slope_rps_per_s = 20", 'safety_window = "0s"')
    with pytest.raises(TargetError, match="safety_window: must be longer than zero"):
        load_targets(write(tmp_path, text))


# (targets.toml line, the secret in it, what the refusal shows instead)
SECRET_URLS = [
    (  # userinfo: a password in the URL
        'url = "https://loadgen:s3cretpw@capture.example.com"',
        "s3cretpw",
        "https://***@capture.example.com",
    ),
    (  # a token in the query, as some ingestion docs show it
        'url = "https://capture.example.com/i?token=phc_marker123"',
        "phc_marker123",
        "https://capture.example.com/i?***",
    ),
    (  # a fragment is never sent, but it is shown and stored like the rest
        'url = "https://capture.example.com/#k=fragsecret"',
        "fragsecret",
        "https://capture.example.com/#***",
    ),
    (  # user only, and a password holding `@` and `/`: everything up to the last @ is hidden
        'url = "http://u:p@ss/w0rd@127.0.0.1:9"',
        "w0rd",
        "http://***@127.0.0.1:9",
    ),
]


@pytest.mark.parametrize(("line", "secret", "shown"), SECRET_URLS)
def test_credentials_in_a_url_are_refused_without_echoing_them(
    tmp_path: Path, line: str, secret: str, shown: str
) -> None:
    text = GOOD.replace('url = "https://capture.staging.example.com/"', line, 1)
    with pytest.raises(TargetError) as info:
        load_targets(write(tmp_path, text))
    [problem] = [p for p in info.value.problems if p.path == "targets.staging.url"]
    rendered = str(info.value)
    assert secret not in rendered
    assert shown in rendered
    assert "credentials = {" in rendered  # points to where secrets belong
    assert problem.line == 2


# (value pasted as the name, a fragment of it that must not be printed)
PASTED_VALUES = [
    ("phc_realtokenvalue123", "realtokenvalue"),  # a PostHog project key: valid shell name!
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39Hq"),  # a known prefix and high entropy
    ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7"),  # upper case, but an AWS key id's shape
    ("Zm9vOmJhcg==", "Zm9vOmJh"),  # base64 has characters no variable name has
    ("eyJhbGciOiJIUzI1NiJ9", "hbGciOiJ"),  # a JWT
    ("R2D2C3POTOKENVALUE99", "C3POTOKEN"),  # 20 letters and digits without an `_`
]


@pytest.mark.parametrize(("value", "fragment"), PASTED_VALUES)
def test_a_token_value_pasted_as_a_name_is_named_as_such_and_not_printed(
    tmp_path: Path, value: str, fragment: str
) -> None:
    text = GOOD.replace('token = "POSTHOG_TOKEN"', f'token = "{value}"', 1)
    with pytest.raises(TargetError) as info:
        load_targets(write(tmp_path, text))
    rendered = str(info.value)
    assert "this looks like a secret value, not a variable name" in rendered
    assert fragment not in rendered
    [problem] = [p for p in info.value.problems if p.path.endswith("credentials.token")]
    assert problem.value is None and problem.line == 7


@pytest.mark.parametrize(
    "name",
    [
        "POSTHOG_TOKEN",  # the documented example
        "CIO_API_KEY_2",  # digits in a word of their own
        "_PRIVATE_TOKEN",  # a leading underscore is a valid name
        "MY_VERY_LONG_SERVICE_NAME_STAGING_INGEST_TOKEN",  # long, but words joined by _
    ],
)
def test_upper_case_variable_names_are_accepted(tmp_path: Path, name: str) -> None:
    text = GOOD.replace('token = "POSTHOG_TOKEN"', f'token = "{name}"', 1)
    assert load_targets(write(tmp_path, text))["staging"].credentials == {"token": name}


def test_a_missing_variable_is_named_with_its_line_and_no_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cio = load_targets(write(tmp_path, GOOD))["cio"]
    monkeypatch.setenv("CIO_SITE_ID", "site-marker-value")
    monkeypatch.delenv("CIO_API_KEY", raising=False)
    with pytest.raises(TargetError) as info:
        cio.credential_values("customerio")
    [problem] = info.value.problems
    assert "api_key (env var CIO_API_KEY)" in problem.message
    assert "site-marker-value" not in str(info.value)
    assert (problem.file, problem.line) == ("targets.toml", 16)  # [targets.cio.credentials]


def test_target_problems_name_the_file_relative_to_the_cwd_and_the_key_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    path = write(tmp_path / "conf", GOOD.replace("max_slope_rps_per_s", "max_slop", 1))
    monkeypatch.chdir(tmp_path)
    for given in (path, Path("conf/targets.toml")):  # absolute or relative, named the same
        with pytest.raises(TargetError) as info:
            load_targets(given)
        [problem] = info.value.problems
        assert (problem.file, problem.line) == ("conf/targets.toml", 10)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the file is not below the cwd: shown as given
    with pytest.raises(TargetError) as info:
        load_targets(path)
    assert info.value.problems[0].file == str(path)


def test_a_loaded_target_knows_the_lines_of_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    staging = load_targets(write(tmp_path, GOOD))["staging"]
    assert staging.source == "targets.toml"
    assert staging.line_of("targets.staging.environment") == 4
    assert staging.line_of("targets.staging.trusted_keys") == 6
    assert BUILTIN_LOCAL.line_of("targets.local.url") is None  # built in: no file


def test_no_targets_file_names_where_it_looked_and_loadgen_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "profiles").mkdir()
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "profiles" / "ramp.toml"
    searched = targets_file_candidates(profile, None)
    with pytest.raises(TargetError) as info:
        resolve_target("staging", load_targets(None), None, searched)
    text = str(info.value)
    assert "searched profiles/targets.toml, targets.toml" in text
    assert "run `loadgen init` to write a starter targets.toml" in text


def test_a_targets_file_without_the_target_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = write(tmp_path, GOOD)
    with pytest.raises(TargetError) as info:
        resolve_target("prod", load_targets(source), source, [source])
    [problem] = info.value.problems
    assert problem.file == "targets.toml"
    assert "add [targets.prod] to targets.toml" in str(info.value)


def test_profile_beside_the_cwd_file_is_searched_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert targets_file_candidates(Path("ramp.toml"), None) == [Path("targets.toml")]
    assert targets_file_candidates(None, Path("x.toml")) == [Path("x.toml")]


def test_the_cli_says_where_it_looked_for_a_target(tmp_path: Path) -> None:
    # A new user's first `--target staging`, with no targets.toml anywhere yet.
    (tmp_path / "profiles").mkdir()
    profile = write_profile(tmp_path / "profiles", run_support.profile("first"))
    rel = profile.relative_to(tmp_path)
    commands: list[list[str | Path]] = [
        ["plan", rel],
        ["lint", rel],
        ["lint", rel, "--format", "github"],
    ]
    for args in commands:
        result = run_support.cli(*args, "--target", "staging", cwd=tmp_path)
        assert result.returncode == 3, result.explain()
        output = result.stdout + result.stderr
        assert "searched profiles/targets.toml, targets.toml" in output, result.explain()
        assert "run `loadgen init` to write a starter targets.toml" in output
        assert str(tmp_path) not in output  # named as the user sees them


def test_github_annotations_of_a_targets_file_are_relative_with_the_line(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, run_support.profile("annotated"))
    write(tmp_path, GOOD.replace("max_slope_rps_per_s = 20", "max_slop = 20", 1))
    result = run_support.cli(
        "lint", profile.name, "--target", "staging", "--format", "github", cwd=tmp_path
    )
    assert result.returncode == 3, result.explain()
    assert "::error file=targets.toml,line=10,title=input.invalid::" in result.stdout


def test_a_syntax_error_names_the_file_relative_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, GOOD.replace('api = "posthog"', 'api = "posthog', 1))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TargetError) as info:
        load_targets(path.resolve())  # given absolute, as the lookup beside a profile may
    [problem] = info.value.problems
    assert (problem.file, problem.line) == ("targets.toml", 3)
    assert "TOML syntax error" in problem.message


def test_guard_findings_on_a_target_point_at_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A production target that trusts no key: two refusals about targets.toml itself.
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    profile = write_profile(tmp_path, run_support.profile("prod-bound"))
    output, _ = lint([profile], "cio", None, strict=False, fmt="github", now=datetime.now(UTC))
    lines = output.splitlines()
    production = "file=targets.toml,line=15,title=target.production-needs-approval::"
    no_keys = "file=targets.toml,line=12,title=approval.no-trusted-keys::"
    assert any(production in line for line in lines), output
    assert any(no_keys in line for line in lines), output
