"""`lint`: exit codes 0/1/3, --strict, the three formats, and approvals picked up from disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from loadgen.arrivals.plan import Plan
from loadgen.errors import UsageError
from loadgen.guard.approvals import approval_path, keygen, sign, write_approval
from loadgen.guard.findings import shown_path
from loadgen.guard.lint import lint, preflight
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import load_targets
from tests.guard_support import NOW, stages, write_profile
from tests.run_support import cli

PRIVATE, PUBLIC = keygen()
SPIKE = {"start_rate": 0, "stages": stages((1, 50), (30, 50))}
SATURDAY = {"start": "2026-12-05T10:00:00+01:00"}


def targets_file(tmp: Path, trusted: str = PUBLIC) -> Path:
    path = tmp / "targets.toml"
    path.write_text(
        f"""\
[targets.prod]
url = "https://capture.example.com"
api = "posthog"
environment = "production"
trusted_keys = ["{trusted}"]
credentials = {{ token = "POSTHOG_TOKEN" }}
""",
        encoding="utf-8",
    )
    return path


def run(
    paths: list[Path], target: str = "local", *, strict: bool = False, fmt: str = "text"
) -> tuple[str, int]:
    return lint(paths, target, None, strict=strict, fmt=fmt, now=NOW)


def test_clean_profile_exits_0(tmp_path: Path) -> None:
    out, code = run([write_profile(tmp_path)])
    assert code == 0
    assert out == "1 file checked: 0 refusals, 0 warnings, 0 invalid-input problems\n"


def test_refusal_exits_1_and_points_at_the_line(tmp_path: Path) -> None:
    path = write_profile(tmp_path, load=SPIKE)
    out, code = run([path])
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{path}:")
    line = int(first.split(":")[1])
    assert path.read_text().splitlines()[line - 1].strip() == "target = 50"
    assert "[spike.slope] load.stages[0].target:" in first


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = write_profile(tmp_path, schedule=SATURDAY)
    out, code = run([path])
    assert code == 0 and "[schedule.weekend]" in out
    assert run([path], strict=True)[1] == 1


# (file content, why it is invalid)
INVALID = [
    ("name = \n", "TOML syntax error"),
    ('name = "x"\n', "missing table"),
]


@pytest.mark.parametrize(("content", "message"), INVALID)
def test_invalid_profile_exits_3(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(content)
    out, code = run([bad, write_profile(tmp_path, load=SPIKE)])  # invalid wins over refused
    assert code == 3
    assert message in out and "[input.invalid]" in out and "[spike.slope]" in out


def test_invalid_file_as_github_annotation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n\n[load]\nstart_rate = "fast"\n')
    out, code = run([bad], fmt="github")
    assert code == 3
    annotation = next(line for line in out.splitlines() if "load.start_rate" in line)
    assert annotation.startswith(f"::error file={bad},line=4,title=input.invalid::")


def test_unknown_target_exits_3(tmp_path: Path) -> None:
    out, code = run([write_profile(tmp_path)], "nowhere")
    assert code == 3
    assert "[target.unknown]" in out and "unknown target 'nowhere'" in out


def test_broken_targets_file_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "targets.toml").write_text("[targets.x]\nurl = 5\n")
    paths = [write_profile(tmp_path, "a"), write_profile(tmp_path, "b")]
    out, code = run(paths)
    assert code == 3
    assert out.count("targets.x.url") == 1


def test_json_format(tmp_path: Path) -> None:
    out, code = run([write_profile(tmp_path, load=SPIKE)], fmt="json")
    doc = orjson.loads(out)
    assert code == 1
    assert doc["summary"]["refusals"] == 1
    assert doc["findings"][0]["rule"] == "spike.slope"


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        run([write_profile(tmp_path)], fmt="yaml")


def test_production_approval_beside_the_profile_is_picked_up(tmp_path: Path) -> None:
    targets_file(tmp_path)
    path = write_profile(tmp_path)
    out, code = run([path], "prod")
    assert code == 1 and "[target.production-needs-approval]" in out
    approval = sign(
        Plan.build(load_profile(path), load_targets(tmp_path / "targets.toml")["prod"]),
        50,
        NOW + timedelta(days=1),
        "Pat",
        PRIVATE,
        now=NOW,
    )
    write_approval(approval, approval_path(path))
    out, code = run([path], "prod")
    assert code == 0 and "approved [target.production-needs-approval]" in out
    # editing a value voids it, and lint says why
    path.write_text(path.read_text().replace("guard test profile", "edited"))
    out, code = run([path], "prod")
    assert code == 1 and "[approval.profile-edited]" in out


def test_malformed_approval_file_is_a_refusal_with_its_line(tmp_path: Path) -> None:
    targets_file(tmp_path)
    path = write_profile(tmp_path)
    approval = sign(
        Plan.build(load_profile(path), load_targets(tmp_path / "targets.toml")["prod"]),
        50,
        NOW + timedelta(days=1),
        "Pat",
        PRIVATE,
        now=NOW,
    )
    text = approval.to_json().decode().replace('"max_rps": 50', '"max_rps": "fifty"')
    approval_path(path).write_text(text)
    out, code = run([path], "prod", fmt="github")
    assert code == 1
    line = next(n for n, t in enumerate(text.splitlines(), 1) if '"max_rps"' in t)
    assert f"line={line},title=approval.malformed::" in out


def test_preflight_matches_lint(tmp_path: Path) -> None:
    targets = load_targets(targets_file(tmp_path))
    path = write_profile(tmp_path, load=SPIKE)
    verdict = preflight(Plan.build(load_profile(path), targets["prod"]), now=NOW)
    assert verdict.refused
    out, _ = run([path], "prod")
    for finding in verdict.findings:
        assert f"[{finding.rule}]" in out


# -- paths and lines of findings about targets.toml ----------------------------------------

# (file as the finding has it, working directory, shown as)
SHOWN_PATHS = [
    # a path under the working directory becomes relative: GitHub needs repo-relative paths
    ("/repo/targets.toml", "/repo", "targets.toml"),
    ("/repo/profiles/ramp.toml", "/repo", "profiles/ramp.toml"),
    # already relative: kept as written
    ("profiles/ramp.toml", "/repo", "profiles/ramp.toml"),
    # outside the working directory: no `../..` guess, the absolute path stays
    ("/elsewhere/targets.toml", "/repo", "/elsewhere/targets.toml"),
    # a finding without a file keeps none
    (None, "/repo", None),
]


@pytest.mark.parametrize(("file", "cwd", "shown"), SHOWN_PATHS)
def test_shown_path(file: str | None, cwd: str, shown: str | None) -> None:
    assert shown_path(file, Path(cwd)) == shown


def test_github_annotation_for_a_bad_targets_key_is_relative_with_its_line(
    tmp_path: Path,
) -> None:
    # targets.toml found in the working directory (an absolute path inside loadgen)
    (tmp_path / "profiles").mkdir()
    write_profile(tmp_path / "profiles")
    (tmp_path / "targets.toml").write_text(
        '[targets.staging]\nurl = "https://capture.example.com"\napi = "posthog"\n'
        'environment = "staging"\nworkspace_rps_limt = 100\n',
        encoding="utf-8",
    )
    result = cli(
        "lint", "profiles/p.toml", "--target", "staging", "--format", "github", cwd=tmp_path
    )
    assert result.returncode == 3, result.explain()
    assert "::error file=targets.toml,line=5,title=input.invalid::" in result.stdout
    assert str(tmp_path) not in result.stdout


def test_guard_findings_about_a_target_carry_the_key_line(tmp_path: Path) -> None:
    # production needs an approval: the finding is about targets.prod.environment, line 4
    targets_file(tmp_path)
    profile = write_profile(tmp_path)
    output, code = lint(
        [profile], "prod", tmp_path / "targets.toml", strict=False, fmt="github", now=NOW
    )
    assert code == 1
    assert "line=4,title=target.production-needs-approval" in output
