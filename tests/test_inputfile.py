"""Input files (profile, targets, approval) are read only as regular files of at most 1 MiB:
/dev/zero cannot grow memory, a FIFO cannot block, and each refusal is a clear message.
The FIFO and device cases also run the real `loadgen` CLI in a subprocess with a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from loadgen.errors import ProfileError, TargetError
from loadgen.guard.approvals import ApprovalError, approval_path, load_approval
from loadgen.inputs.files import MAX_INPUT_BYTES, UnreadableInput, open_regular, read_input
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import load_targets
from tests.profile_text import profile_text

Maker = Callable[[Path], Path]


def missing(tmp: Path) -> Path:
    return tmp / "nowhere.toml"


def directory(tmp: Path) -> Path:
    (tmp / "folder.toml").mkdir()
    return tmp / "folder.toml"


def dev_zero(tmp: Path) -> Path:
    link = tmp / "zero.toml"  # behind a name that looks like an input file
    link.symlink_to("/dev/zero")
    return link


def fifo(tmp: Path) -> Path:
    path = tmp / "pipe.toml"
    os.mkfifo(path)  # no writer: a blocking open would wait forever
    return path


def one_byte_too_big(tmp: Path) -> Path:
    path = tmp / "big.toml"
    path.write_bytes(b"#" * (MAX_INPUT_BYTES + 1))
    return path


def not_utf8(tmp: Path) -> Path:
    path = tmp / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    return path


# (why, how to make the file, words of the refusal)
REFUSED: list[tuple[str, Maker, str]] = [
    ("a path that does not exist", missing, "not found"),
    ("a directory is not a file", directory, "is a directory"),
    ("/dev/zero would grow memory without end", dev_zero, "not a regular file"),
    ("a FIFO without a writer would block forever", fifo, "not a regular file"),
    ("one byte over the cap", one_byte_too_big, "larger than 1,024 KiB"),
    ("Latin-1 text is not UTF-8", not_utf8, "not UTF-8"),
]


@pytest.mark.parametrize(("make", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_read_input_refuses_with_a_clear_message(tmp_path: Path, make: Maker, words: str) -> None:
    with pytest.raises(UnreadableInput) as info:
        read_input(make(tmp_path), "profile")
    assert words in info.value.message
    assert info.value.message.startswith(("profile", "cannot read profile"))


def test_a_file_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.toml"
    path.write_bytes(b"#" * MAX_INPUT_BYTES)  # the cap itself is allowed: 1 MiB, not less
    assert len(read_input(path, "profile")) == MAX_INPUT_BYTES


def test_open_regular_never_blocks_on_a_fifo_and_keeps_no_descriptor(tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):  # a leaked descriptor per refusal would show here
        with pytest.raises(UnreadableInput, match="not a regular file"):
            open_regular(fifo(tmp_path), "replay")
        (tmp_path / "pipe.toml").unlink()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(("make", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_each_kind_of_input_file_reports_it(tmp_path: Path, make: Maker, words: str) -> None:
    bad = make(tmp_path)
    with pytest.raises(ProfileError, match=words) as profile_error:
        load_profile(bad)
    assert profile_error.value.problems[0].file == str(bad)
    with pytest.raises(TargetError, match=words):
        load_targets(bad)
    with pytest.raises(ApprovalError) as approval_error:
        load_approval(bad)
    assert any(words in p.message for p in approval_error.value.problems)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # a blocked read would hit the timeout and fail the test
        [sys.executable, "-m", "loadgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("make", [fifo, dev_zero], ids=["fifo", "dev-zero"])
@pytest.mark.parametrize("command", ["lint", "plan"])
def test_cli_refuses_a_special_profile_or_targets_file_promptly(
    tmp_path: Path, make: Maker, command: str
) -> None:
    special = make(tmp_path)
    result = cli(command, str(special), cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not a regular file" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "p.toml").write_text(profile_text(), encoding="utf-8")
    result = cli(command, "p.toml", "--targets", str(special), cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not a regular file" in result.stdout + result.stderr


@pytest.mark.parametrize("make", [fifo, dev_zero, one_byte_too_big], ids=["fifo", "zero", "big"])
@pytest.mark.parametrize("command", [["lint"], ["run", "--dry-run"]])
def test_cli_reports_a_special_approval_file_beside_the_profile(
    tmp_path: Path, make: Maker, command: list[str]
) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(profile_text(), encoding="utf-8")
    made = make(tmp_path)
    made.rename(approval_path(profile))
    result = cli(*command, "p.toml", cwd=tmp_path)
    output = result.stdout + result.stderr
    # This profile needs no approval, so a broken one is reported and ignored (exit 0).
    assert result.returncode == 0, output
    assert "malformed approval file" in output and "ignored" in output, output
    assert "Traceback" not in output
