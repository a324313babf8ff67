"""What an import shows while it runs: a rich bar on a terminal, a plain line every 5 s off
one (CI logs, `nohup`), nothing with `--quiet`. Always on stderr: stdout is for the
reconciliation."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Protocol

PLAIN_EVERY_S = 5.0
BAR_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class Snapshot:
    done: int  # records in a final state, all sessions
    accepted: int
    dead_lettered: int
    retries: int
    rate_limited: int
    events_per_s: float  # this session


class Display(Protocol):
    every_s: float

    def start(self, total: int | None, done: int) -> None: ...
    def update(self, snap: Snapshot) -> None: ...
    def stop(self) -> None: ...


def _eta(snap: Snapshot, total: int | None) -> str:
    if total is None or snap.events_per_s <= 0:
        return "?"
    left = max(0, total - snap.done) / snap.events_per_s
    return f"{int(left // 60)}m{int(left % 60):02d}s"


class Quiet:
    every_s = 3600.0

    def start(self, total: int | None, done: int) -> None:
        pass

    def update(self, snap: Snapshot) -> None:
        pass

    def stop(self) -> None:
        pass


class PlainLines:
    every_s = PLAIN_EVERY_S

    def __init__(self) -> None:
        self._total: int | None = None

    def start(self, total: int | None, done: int) -> None:
        self._total = total

    def update(self, snap: Snapshot) -> None:
        total = f"{self._total:,}" if self._total is not None else "?"
        print(
            f"import: {snap.done:,}/{total} records, {snap.events_per_s:,.0f} events/s, "
            f"ETA {_eta(snap, self._total)}, 429s {snap.rate_limited:,}, retries "
            f"{snap.retries:,}, dead-lettered {snap.dead_lettered:,}",
            file=sys.stderr,
            flush=True,
        )

    def stop(self) -> None:
        pass


class Bar:
    every_s = BAR_EVERY_S

    def __init__(self) -> None:
        # rich only on a terminal, and only once the import starts
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("import"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            console=Console(stderr=True),
            transient=False,
            redirect_stdout=False,
        )
        self._task: Any = None
        self._total: int | None = None

    def start(self, total: int | None, done: int) -> None:
        self._total = total
        self._progress.start()
        self._task = self._progress.add_task("import", total=total, completed=done, info="")

    def update(self, snap: Snapshot) -> None:
        info = (
            f"{snap.events_per_s:,.0f} ev/s ETA {_eta(snap, self._total)} "
            f"429s {snap.rate_limited:,} retries {snap.retries:,} dead {snap.dead_lettered:,}"
        )
        self._progress.update(self._task, completed=snap.done, info=info)

    def stop(self) -> None:
        self._progress.stop()


def choose_display(quiet: bool) -> Display:
    if quiet:
        return Quiet()
    return Bar() if sys.stderr.isatty() else PlainLines()


def count_lines(path: Any) -> int | None:
    """The file's line count, for the bar's total (a fast scan; None if unreadable)."""
    try:
        with open(path, "rb") as stream:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    except OSError:
        return None


__all__ = ["Display", "Snapshot", "choose_display", "count_lines"]
