"""Read a user's input file (profile, targets, approval) safely: a regular file, bounded.

`Path.read_text` on `/dev/zero` grows until memory runs out, and on a FIFO it blocks until
a writer shows up. Every input file loadgen reads goes through `read_input`, which opens
without blocking, refuses anything that is not a regular file, and reads at most
`MAX_INPUT_BYTES` (documented in the README). Real profiles are a few KiB. Replay files,
streamed record by record, are opened with the same checks by `open_regular`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

MAX_INPUT_BYTES = 1024 * 1024  # 1 MiB: ~100x the largest realistic profile or targets file


class UnreadableInput(Exception):
    """The file cannot be used as input; `message` says why and `fix` what to do."""

    def __init__(self, message: str, fix: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def open_regular(path: Path, kind: str) -> BinaryIO:
    """`path` opened for binary reading, if it is a regular file; never blocks on a FIFO."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise block forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UnreadableInput(f"{kind} file not found", "check the path") from None
    except IsADirectoryError:
        raise UnreadableInput(f"{kind} path is a directory", "name a file") from None
    except OSError as exc:
        raise UnreadableInput(f"cannot read {kind} file: {exc.strerror or exc}", None) from None
    mode = os.fstat(fd).st_mode  # before fdopen, which raises on a directory
    if stat.S_ISREG(mode):
        return os.fdopen(fd, "rb")
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise UnreadableInput(f"{kind} path is a directory", "name a file")
    raise UnreadableInput(
        f"{kind} file is not a regular file (a device, FIFO or socket)",
        "save it as a regular file and name that",
    )


def read_input(path: Path, kind: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the regular file `path`, refusing devices, FIFOs and huge files."""
    with open_regular(path, kind) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnreadableInput(
            f"{kind} file is larger than {limit // 1024:,} KiB",
            f"keep {kind} files under {limit // 1024:,} KiB",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(
            f"{kind} file is not UTF-8 text (byte {exc.start})", "save it as UTF-8"
        ) from None


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies inside it, else as given.

    Problems and GitHub annotations name files this way (annotations need repo-relative
    paths), and an absolute path would also show where someone's home directory is.
    """
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
