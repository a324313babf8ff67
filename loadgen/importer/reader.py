"""The import file, streamed one record at a time with its line and byte offsets.

NDJSON and CSV as `replay` reads them (the same parsers and the same 1 MiB cap per record,
so memory stays flat whatever the file holds), plus where each record ends in the file:
a checkpoint keeps the byte offset of its acknowledged prefix, and `--resume` seeks there
instead of reading the file again. CSV rows can span lines, so CSV resumes by line number
(the file is read again, acknowledged rows are skipped before they are mapped).

A file is identified by its size and a hash of its first MiB: the deterministic event ids
derive from it, so they are the same after `--resume`, after a move or a copy.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from loadgen.inputs.files import UnreadableInput, open_regular
from loadgen.scenarios.replay import (
    MAX_RECORD_BYTES,
    ReplayError,
    bounded_lines,
    csv_records,
)

FileFormat = Literal["ndjson", "csv"]
_IDENTITY_BYTES = 1024 * 1024
_RAW_KEPT = 4096  # of a malformed line, kept for the dead-letter file
_TOO_LONG = f"record longer than {MAX_RECORD_BYTES // 1024:,} KiB (the cap per record)"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One record: its line (1-based), the byte offset just past it (NDJSON; 0 for CSV) and
    the parsed object, or the text of what is wrong with it."""

    line: int
    end: int
    value: dict[str, Any] | str
    raw: str | None = None  # a malformed NDJSON line as read (for the dead-letter file)


def file_identity(path: Path) -> str:
    """`size:sha256-of-the-first-MiB`, stable across moves, copies and resumes."""
    with open_file(path) as stream:
        head = stream.read(_IDENTITY_BYTES)
        size = stream.seek(0, io.SEEK_END)
    return f"{size}:{hashlib.sha256(head).hexdigest()}"


def open_file(path: Path) -> BinaryIO:
    try:
        return open_regular(path, "import")
    except UnreadableInput as exc:
        fix = exc.fix or "check the path and its permissions"
        raise ReplayError(f"cannot import {path}: {exc.message}; fix: {fix}") from None


def records(
    path: Path, fmt: FileFormat, *, start_line: int = 0, start_offset: int = 0
) -> Iterator[FileRecord]:
    """The records after line `start_line` (NDJSON: found by seeking to `start_offset`)."""
    if fmt == "csv":
        yield from _csv(path, start_line)
    else:
        yield from _ndjson(path, start_line, start_offset)


def _ndjson(path: Path, start_line: int, start_offset: int) -> Iterator[FileRecord]:
    with open_file(path) as stream:
        stream.seek(start_offset)
        offset, line_no = start_offset, start_line
        for raw in bounded_lines(stream, MAX_RECORD_BYTES, (b"\n",)):
            line_no += 1
            offset = stream.tell() if raw is None else offset + len(raw)
            if raw is None:
                yield FileRecord(line_no, offset, _TOO_LONG)
            elif raw.strip():
                value = _parse(raw)
                text = (
                    raw[:_RAW_KEPT].decode("utf-8", "replace") if isinstance(value, str) else None
                )
                yield FileRecord(line_no, offset, value, text)


def _parse(raw: bytes) -> dict[str, Any] | str:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"invalid JSON ({exc})"
    return value if isinstance(value, dict) else "not a JSON object"


def _csv(path: Path, start_line: int) -> Iterator[FileRecord]:
    with open_file(path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        try:
            for line, value in csv_records(text):
                if line > start_line:
                    yield FileRecord(line, 0, value)
        except ValueError as exc:  # RecordError: a bad header, no row can be read
            raise ReplayError(f"{path}:1: {exc}") from None


__all__ = ["FileFormat", "FileRecord", "file_identity", "open_file", "records"]
