"""The pre-commit recipes of docs/ci.md, for real: `pre-commit install` in a scratch git
repository, then `git commit` of a profile with a typo (blocked) and of a clean one (passes).

Both recipes are exercised: `repo: local` with `language: system` (loadgen already installed,
no hook environment to build) and the shipped `.pre-commit-hooks.yaml` used from this
checkout by path at its HEAD commit, which pre-commit clones and pip-installs (~20 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLEAN = (ROOT / "profiles" / "demo.toml").read_text()
TYPO = CLEAN.replace("max_in_flight = 100", "max_in_fligth = 100")
HOOK_TIMEOUT_S = 300  # the cloned recipe builds a virtualenv with pip on first use

LOCAL_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: loadgen-lint
        name: loadgen lint
        entry: loadgen lint
        language: system
        files: ^profiles/.*\\.toml$
        exclude: (^|/)targets\\.toml$
"""

CLONED_CONFIG = """\
repos:
  - repo: {repo}
    rev: {rev}
    hooks:
      - id: loadgen-lint
"""


def _git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=HOOK_TIMEOUT_S,
        check=False,
    )


def _scratch_repo(tmp_path: Path, config: str) -> tuple[Path, dict[str, str]]:
    assert shutil.which("git"), "git is needed to test the pre-commit hook"
    repo = tmp_path / "profiles-repo"
    (repo / "profiles").mkdir(parents=True)
    env = {
        **os.environ,
        # loadgen and pre-commit of this virtualenv, for `language: system` and the git hook
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_CONFIG_GLOBAL": os.devnull,  # no user hooksPath, signing or templates
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    assert _git(repo, "init", "-q", env=env).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(config)
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr + installed.stdout
    return repo, env


def _commit(repo: Path, env: dict[str, str], text: str, message: str) -> str:
    """Stage profiles/ramp.toml with `text` and commit; returns the commit's output, or
    raises AssertionError with it when the hook blocked the commit."""
    (repo / "profiles" / "ramp.toml").write_text(text)
    assert _git(repo, "add", "-A", env=env).returncode == 0
    done = _git(repo, "commit", "-m", message, env=env)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(output)
    return output


def _check_typo_blocked_then_clean_passes(repo: Path, env: dict[str, str]) -> None:
    with pytest.raises(AssertionError) as blocked:
        _commit(repo, env, TYPO, "a typo")
    assert "loadgen lint" in str(blocked.value)
    assert "Failed" in str(blocked.value)
    assert "max_in_fligth" in str(blocked.value)  # the finding names the bad key
    assert "did you mean" in str(blocked.value)
    assert _git(repo, "rev-parse", "HEAD", env=env).returncode != 0  # nothing committed
    passed = _commit(repo, env, CLEAN, "a clean profile")
    assert "loadgen lint" in passed
    assert "Passed" in passed


def test_local_system_hook_blocks_a_typo_and_passes_a_clean_profile(tmp_path: Path) -> None:
    repo, env = _scratch_repo(tmp_path, LOCAL_CONFIG)
    _check_typo_blocked_then_clean_passes(repo, env)


def test_shipped_hook_from_this_checkout_blocks_a_typo(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert head.returncode == 0, f"this test needs the loadgen checkout's git: {head.stderr}"
    config = CLONED_CONFIG.format(repo=ROOT, rev=head.stdout.strip())
    repo, env = _scratch_repo(tmp_path, config)
    _check_typo_blocked_then_clean_passes(repo, env)
