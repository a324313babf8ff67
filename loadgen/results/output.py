"""Where the results artifact goes: checked before the first request, saved elsewhere if
writing still fails at the end. A run's results are never lost to a bad `--out`.

Before the run (`prepare_output`, a usage error, exit 2, naming the path and the reason):
the default `results/` directory is created if missing, but the parent directory of an
explicit `--out` must exist (a typo in a path should not silently grow a directory tree);
the path must not be a directory or a special file; and a 64 KiB probe file is written,
synced and removed beside it, which finds a read-only or full filesystem, `/proc` or
`/sys`, and missing permissions.

At the end (`write_or_fallback`): if the disk filled during the run, or anything else makes
the write fail, the artifact goes to the system temp directory (`$TMPDIR`, else `/tmp`),
else the working directory, as `loadgen-results-<name>-<UTC>-<pid>.json`; the CLI prints
where and exits 6 ("results not written where asked").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadgen.errors import ResultsNotWritten, UsageError
from loadgen.results.artifact import ArtifactWriteError, write_artifact

DEFAULT_DIR = Path("results")
PROBE_BYTES = 64 * 1024  # an artifact's order of size: a full disk shows before the run


class OutputPathError(UsageError):
    """`--out` (or the default results directory) cannot be written."""


def prepare_output(out: Path | None) -> None:
    """Raise OutputPathError unless an artifact can be written at `out` (None: default)."""
    if out is None:
        try:
            DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputPathError(
                f"cannot create the results directory {DEFAULT_DIR}/: {_why(exc)}; "
                "run from a writable directory or give --out FILE"
            ) from exc
        _probe(DEFAULT_DIR, f"the results directory {DEFAULT_DIR}/")
        return
    shown = f"--out {out}"
    if out.is_dir():
        raise OutputPathError(f"{shown} is a directory; give a file, e.g. {out / 'run.json'}")
    if out.exists() and not out.is_file():
        raise OutputPathError(f"{shown} is not a regular file; give a file path")
    parent = out.parent
    if not parent.exists():
        raise OutputPathError(
            f"{shown}: the directory {parent} does not exist; create it (mkdir -p {parent}) "
            "or choose another path"
        )
    if not parent.is_dir():
        raise OutputPathError(f"{shown}: {parent} is not a directory")
    _probe(parent, shown)


def _probe(directory: Path, shown: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".loadgen-probe-", dir=directory)
    except OSError as exc:
        raise OutputPathError(f"{shown}: cannot write there: {_why(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(PROBE_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise OutputPathError(f"{shown}: cannot write there: {_why(exc)}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def write_or_fallback(path: Path, doc: dict[str, Any]) -> tuple[Path, str | None]:
    """Write the artifact at `path`, else at a fallback: (where it is, why not at `path`).
    Raises ResultsNotWritten only when no place at all would take it."""
    try:
        return write_artifact(path, doc), None
    except ArtifactWriteError as exc:
        problem = str(exc)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"loadgen-results-{path.stem}-{stamp}-{os.getpid()}.json"
    failures = [problem]
    for directory in (Path(tempfile.gettempdir()), Path.cwd()):
        try:
            return write_artifact(directory / name, doc), problem
        except ArtifactWriteError as exc:
            failures.append(str(exc))
    raise ResultsNotWritten("; ".join(failures) + "; the results are lost")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
