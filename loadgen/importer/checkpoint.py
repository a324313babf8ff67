"""What is acknowledged, in memory (`Acks`) and on disk (`Checkpoint`, written atomically).

A record is acknowledged once it reached its final state (accepted, dead-lettered,
skipped). Records are registered in file order; the acknowledged *prefix* is the longest
run of them from the start that are all acknowledged, kept as its last line and the byte
offset just past it. Acknowledged records beyond the prefix (batches finish out of order)
are kept as a set of lines, bounded by what is in flight. `--resume` starts reading after
the prefix and skips the lines of that set: nothing acknowledged is sent again.

The file is written to a temporary file beside it, fsynced, then renamed over the old one
(and the folder fsynced): after a crash or kill -9 the checkpoint is the old one or the
new one, never half of each.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from loadgen.errors import LoadgenError

CHECKPOINT_VERSION = 1


class CheckpointError(LoadgenError):
    """A checkpoint cannot be read or does not belong to this file."""


@dataclass(slots=True)
class Counts:
    """Totals over every session of one import (a resumed one adds to them)."""

    read: int = 0  # records that reached a final state, counted apart from the three below
    accepted: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    transport_errors: int = 0
    sessions: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.dead_lettered + self.skipped


@dataclass(slots=True)
class Checkpoint:
    file: str
    identity: str
    format: str
    api: str
    started_at: float  # the first session's start: the timestamp of undated records
    prefix_line: int = 0
    prefix_offset: int = 0
    beyond: list[int] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    latency_hdr: str | None = None  # the latency histogram so far (loadgen.metrics.hdr)
    version: int = CHECKPOINT_VERSION

    def write(self, path: Path) -> None:
        data = orjson.dumps(asdict(self))
        temp = path.with_name(f".{path.name}.tmp")
        with open(temp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        try:
            raw = orjson.loads(path.read_bytes())
            counts = Counts(**raw.pop("counts"))
            if raw.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"version {raw.get('version')!r}, not {CHECKPOINT_VERSION}")
            return cls(counts=counts, **raw)
        except FileNotFoundError:
            raise CheckpointError(
                f"{path}: no checkpoint to resume from (fix: run without --resume to start, "
                "or name the checkpoint with --checkpoint)"
            ) from None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CheckpointError(
                f"{path}: not a loadgen import checkpoint ({exc}); fix: delete it and import "
                "without --resume, or name the right one with --checkpoint"
            ) from None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Acks:
    """Registered records in file order, and which of them are acknowledged."""

    __slots__ = ("_done", "_order", "prefix_line", "prefix_offset")

    def __init__(self, prefix_line: int, prefix_offset: int, beyond: list[int]) -> None:
        self.prefix_line, self.prefix_offset = prefix_line, prefix_offset
        self._done: set[int] = set(beyond)  # acknowledged, beyond the prefix
        self._order: deque[tuple[int, int]] = deque()  # registered (line, end), not in prefix

    def known(self, line: int) -> bool:
        """Acknowledged already (in an earlier session). The caller still registers and
        acknowledges such a line, so that the prefix can grow past it."""
        return line <= self.prefix_line or line in self._done

    def register(self, line: int, end: int) -> None:
        self._order.append((line, end))
        self._advance()

    def acknowledge(self, line: int) -> None:
        self._done.add(line)
        self._advance()

    def _advance(self) -> None:
        order, done = self._order, self._done
        while order and order[0][0] in done:
            line, end = order.popleft()
            done.discard(line)
            self.prefix_line, self.prefix_offset = line, end

    def beyond(self) -> list[int]:
        return sorted(self._done)

    def pending(self) -> int:
        return len(self._order)


__all__ = ["CHECKPOINT_VERSION", "Acks", "Checkpoint", "CheckpointError", "Counts"]
