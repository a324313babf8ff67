"""One import session: read, map, batch, order, pace, send, acknowledge, checkpoint.

The file is streamed: batches are cut only as fast as the capacity limiter lets them go
out, so at most `concurrency` batches (plus the one waiting) are in memory whatever the
file's size. Every record registered is acknowledged exactly once, as accepted,
dead-lettered or skipped; the checkpoint is written after every finished batch and at
every ending, so a kill -9 resends at most the batches that were in flight.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from loadgen.importer.batches import Batch, Item, KeyLocks, cut_batches
from loadgen.importer.checkpoint import Acks, Checkpoint
from loadgen.importer.mapping import ImportMapping
from loadgen.importer.progress import Display, Snapshot
from loadgen.importer.reader import FileFormat, records
from loadgen.importer.sender import DeadLetters, Outcome, Sender
from loadgen.metrics.hdr import add_into, decode, encode
from loadgen.scenarios.api_format import RecordError


@dataclass(frozen=True, slots=True)
class SessionSetup:
    path: Path
    source: str  # the file as the user named it, for file:line
    fmt: FileFormat
    url: str
    verify_tls: bool
    batch_size: int
    concurrency: int
    on_error: str  # "fail" (malformed records are dead-lettered) or "skip"
    checkpoint_path: Path


class _Flight:
    """The batches in flight: their distinct_ids, their number, a wake-up on each end."""

    def __init__(self) -> None:
        self.locks = KeyLocks()
        self.count = 0
        self._changed = anyio.Event()

    async def wait_until(self, keys: set[str], limit: int) -> None:
        while not (self.locks.free(keys) and self.count < limit):
            await self._changed.wait()

    def start(self, keys: set[str]) -> None:
        self.locks.claim(keys)
        self.count += 1

    def end(self, keys: set[str]) -> None:
        self.locks.release(keys)
        self.count -= 1
        self._changed.set()
        self._changed = anyio.Event()


class Session:
    def __init__(
        self,
        setup: SessionSetup,
        checkpoint: Checkpoint,
        mapping: ImportMapping,
        sender: Sender,
        dead: DeadLetters,
        already_dead: set[int],
        display: Display,
    ) -> None:
        self.setup, self.checkpoint, self._mapping = setup, checkpoint, mapping
        self._sender, self._dead, self._already_dead = sender, dead, already_dead
        self._display = display
        self.counts = checkpoint.counts
        self.acks = Acks(checkpoint.prefix_line, checkpoint.prefix_offset, checkpoint.beyond)
        self._flight = _Flight()
        self.stopped_by: str | None = None
        self.finished = False
        if checkpoint.latency_hdr:
            add_into(sender.latency, decode(checkpoint.latency_hdr))

    def _stopping(self) -> bool:
        return self.stopped_by is not None

    def stop(self, why: str) -> None:
        if self.stopped_by is None:
            self.stopped_by = why
            self._sender.stop_requested.set()

    async def run(self, client: httpx.AsyncClient) -> None:
        del client  # the sender holds it; the session only owns its lifetime
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._watch_signals, tasks.cancel_scope)
            tasks.start_soon(self._show_progress)
            try:
                async with anyio.create_task_group() as sends:
                    await self._dispatch(sends)
                self.finished = self.stopped_by is None
            finally:  # also when a second signal cancelled what was in flight
                self.save()
                tasks.cancel_scope.cancel()

    async def _dispatch(self, sends: anyio.abc.TaskGroup) -> None:
        size = self.setup.batch_size
        for batch in cut_batches(self._items(), size, self._mapping.limits.batch_bytes):
            await self._flight.wait_until(batch.keys, self.setup.concurrency)
            if self._stopping():
                return
            self._flight.start(batch.keys)
            sends.start_soon(self._send, batch)
            if self._stopping():
                return

    async def _send(self, batch: Batch) -> None:
        try:
            outcome = await self._sender.deliver(batch.items)
        except BaseException:
            self._flight.end(batch.keys)
            raise
        self._flight.end(batch.keys)
        if outcome is Outcome.ACKNOWLEDGED:
            for item in batch.items:
                self._ack(item.line)
            self.save()

    def _items(self) -> Iterator[Item]:
        """The records still to send, mapped; the others are settled here."""
        setup, acks = self.setup, self.acks
        start, offset = acks.prefix_line, acks.prefix_offset
        for record in records(setup.path, setup.fmt, start_line=start, start_offset=offset):
            if self._stopping():
                return
            line = record.line
            known = acks.known(line)
            acks.register(line, record.end)
            if known:
                acks.acknowledge(line)
            elif line in self._already_dead:  # written before a crash, not checkpointed
                self.counts.dead_lettered += 1
                self._ack(line)
            elif isinstance(record.value, str):
                self._settle_malformed(line, record.value, record.raw)
            else:
                try:
                    yield self._mapping.item(line, record.end, record.value)
                except RecordError as exc:
                    reason = f"the {self._mapping.title} API would reject it: {exc}"
                    self._dead.write(line, record.value, reason, None)
                    self.counts.dead_lettered += 1
                    self._ack(line)

    def _settle_malformed(self, line: int, why: str, raw: str | None) -> None:
        if self.setup.on_error == "skip":
            self.counts.skipped += 1
        else:
            self._dead.write(line, raw, f"malformed record: {why}", None)
            self.counts.dead_lettered += 1
        self._ack(line)

    def _ack(self, line: int) -> None:
        """A record read in this session reached its final state."""
        self.acks.acknowledge(line)
        self.counts.read += 1

    def save(self) -> None:
        cp = self.checkpoint
        cp.prefix_line, cp.prefix_offset = self.acks.prefix_line, self.acks.prefix_offset
        cp.beyond = self.acks.beyond()
        cp.latency_hdr = encode(self._sender.latency)
        cp.write(self.setup.checkpoint_path)

    async def _watch_signals(self, scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for received in signals:
                if self.stopped_by is not None:  # a second one: stop waiting for in-flight
                    scope.cancel()
                    return
                self.stop(signal.Signals(received).name)

    async def _show_progress(self) -> None:
        began, done_at_start = time.monotonic(), self.counts.read
        while True:
            await anyio.sleep(self._display.every_s)
            elapsed = time.monotonic() - began
            self._display.update(self.snapshot(elapsed, done_at_start))

    def snapshot(self, elapsed: float, done_at_start: int) -> Snapshot:
        c = self.counts
        rate = (c.read - done_at_start) / elapsed if elapsed > 0 else 0.0
        return Snapshot(c.read, c.accepted, c.dead_lettered, c.retries, c.rate_limited, rate)


__all__ = ["Session", "SessionSetup"]
