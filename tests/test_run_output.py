"""Results are never lost to `--out`: a path that cannot be written is refused before the
first request (exit 2, naming the path and the reason), and a write that still fails at the
end (the disk filled during the run) saves the artifact to a fallback and exits 6."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fault_servers import Reply, responder
from tests.run_support import (
    cli,
    profile,
    read_checked,
    start,
    wait_for_requests,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table


@contextmanager
def tmpfs(where: Path, *options: str) -> Iterator[Path]:
    """A small tmpfs mounted at `where` (skips the test where mounting is not allowed)."""
    where.mkdir()
    spec = ",".join(("size=256k", *options))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", spec, "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> None:
    """Write zeros into `directory` until its filesystem has no space left."""
    with open(directory / "filler", "wb") as handle:
        try:
            while True:
                handle.write(bytes(64 * 1024))
                handle.flush()
        except OSError:
            pass


def _directory(tmp: Path) -> Path:
    return tmp  # --out names an existing directory


def _missing_parent(tmp: Path) -> Path:
    return tmp / "no-such-dir" / "out.json"


def _file_as_parent(tmp: Path) -> Path:
    (tmp / "a-file").write_text("x")
    return tmp / "a-file" / "out.json"


def _special_file(tmp: Path) -> Path:
    return Path("/dev/null")


def _under_proc(tmp: Path) -> Path:
    return Path("/proc/loadgen-out.json")


def _under_sys(tmp: Path) -> Path:
    return Path("/sys/kernel/loadgen-out.json")


# (case, the path, what the message must say) - each fails for root too
UNWRITABLE: list[tuple[str, Callable[[Path], Path], str]] = [
    # a directory: the rename at the end would fail
    ("directory", _directory, "is a directory"),
    # an explicit path's directory is never created: a typo must not hide the results
    ("missing-parent", _missing_parent, "does not exist; create it (mkdir -p"),
    # a regular file where a directory should be: ENOTDIR
    ("file-as-parent", _file_as_parent, "is not a directory"),
    # /dev/null: renaming over it would replace the device node
    ("special-file", _special_file, "is not a regular file"),
    # procfs takes no new files, not even from root
    ("proc", _under_proc, "cannot write there: No such file or directory"),
    # sysfs neither
    ("sys", _under_sys, "cannot write there:"),
]


@pytest.mark.parametrize(("case", "make", "says"), UNWRITABLE, ids=[c[0] for c in UNWRITABLE])
def test_unwritable_out_is_refused_before_the_first_request(
    tmp_path: Path, case: str, make: Callable[[Path], Path], says: str
) -> None:
    out = make(tmp_path)
    _refused_before_sending(tmp_path, out, says)


def _refused_before_sending(tmp_path: Path, out: Path, says: str) -> None:
    path = write_profile(tmp_path, profile("out", stages=[("1s", 10)]))
    with responder(Reply()) as server:
        write_targets(tmp_path, srv=target_table(server.url))
        result = cli("run", path, "-t", "srv", "--out", out, "--quiet")
        assert server.requests_seen == 0  # found before the first request
    assert result.returncode == 2, result.explain()
    assert f"usage: --out {out}" in result.stderr, result.stderr
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_out_on_a_read_only_filesystem_is_refused(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro") as ro:
        _refused_before_sending(tmp_path, ro / "out.json", "Read-only file system")


def test_out_on_a_full_filesystem_is_refused(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full") as full:
        fill(full)
        _refused_before_sending(tmp_path, full / "out.json", "No space left on device")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_out_without_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _refused_before_sending(tmp_path, locked / "out.json", "Permission denied")


def test_default_results_directory_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("out", stages=[("1s", 10)]))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (workdir / "results").write_text("a file, not a directory")
    result = cli("run", path.resolve(), "--quiet", cwd=workdir)
    assert result.returncode == 2, result.explain()
    assert "cannot create the results directory results/" in result.stderr, result.stderr


def test_disk_full_at_the_end_saves_to_the_fallback_and_exits_6(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("full", stages=[("2s", 10), ("2s", 10)]))
    spare = tmp_path / "spare"  # the system temp dir for this run ($TMPDIR)
    spare.mkdir()
    with tmpfs(tmp_path / "disk") as disk:
        out = disk / "out.json"
        run = start("run", path, "--out", out, "--quiet", env={"TMPDIR": str(spare)})
        wait_for_requests(run.proc.pid, 3)  # the check passed, the run is sending
        fill(disk)
        result = run.finish(timeout=60)
        assert not out.exists()
    assert result.returncode == 6, result.explain()
    saved = list(spare.glob("loadgen-results-out-*.json"))
    assert len(saved) == 1, list(spare.iterdir())
    assert f"results not written to {out}" in result.stderr, result.stderr
    assert "No space left on device" in result.stderr
    assert f"saved to {saved[0]} instead" in result.stderr
    assert f"results: {saved[0]}" in result.stdout  # the summary points at it too
    doc = read_checked(saved[0])
    assert doc["status"] == "completed"
    assert doc["totals"]["sent"] == 31  # 1 -> 10 req/s in 2 s (11), then 10 for 2 s


def test_no_place_at_all_exits_6_saying_the_results_are_lost(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("lost", stages=[("1s", 10)]))
    with tmpfs(tmp_path / "disk") as disk:
        out = disk / "out.json"
        run = start("run", path, "--out", out, "--quiet", env={"TMPDIR": str(disk)}, cwd=disk)
        wait_for_requests(run.proc.pid, 1)
        fill(disk)  # the asked place, the temp dir and the working directory: all full
        result = run.finish(timeout=60)
    assert result.returncode == 6, result.explain()
    assert re.search(r"cannot write results to .*the results are lost", result.stderr)
    assert "Traceback" not in result.stderr
