"""The parent's side of `--workers N`: start the workers, read their progress, forward
Ctrl-C/SIGTERM, show one panel, and wait for all of them, under one anyio task group.

Structured cancellation: each worker is an `anyio.open_process` inside the group, so if the
parent's supervision fails or is cancelled, every worker still running is killed with it; a
worker that ends (however it ends) ends only its own task, and the others run on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

import loadgen
from loadgen import interrupts
from loadgen.metrics import LiveSnapshot
from loadgen.report.live import DisplayMode, show_progress
from loadgen.run.worker_progress import MAX_LINE_BYTES, decode, sum_snapshots

LOG_TAIL_CHARS = 600  # of a lost worker's stderr, in the message that reports it


@dataclass(slots=True)
class Worker:
    """One worker process and what the parent learnt of it."""

    index: int  # 1-based: worker i runs segment i/N
    segment: str
    part: Path  # where it is asked to write its results
    log: Path  # its stderr
    ready: bool = False  # its signal handlers are in place
    snapshot: LiveSnapshot | None = None
    first_progress_at: float | None = None  # perf_counter when its engine started
    artifact: str | None = None  # where it says it wrote its results
    returncode: int | None = None
    problem: str | None = None
    process: anyio.abc.Process | None = None
    held_signals: list[signal.Signals] = field(default_factory=list)

    def deliver(self, sig: signal.Signals) -> None:
        """Forward `sig` now, or once the worker is ready (before, it would kill it)."""
        if not self.ready or self.process is None:
            self.held_signals.append(sig)
            return
        with contextlib.suppress(ProcessLookupError):  # it has just ended: nothing to stop
            self.process.send_signal(sig)

    def became_ready(self) -> None:
        self.ready = True
        held, self.held_signals = self.held_signals, []
        for sig in held:
            self.deliver(sig)

    def lost_because(self) -> str:
        """Why this worker left no results, in words, with the end of its stderr."""
        code = self.returncode
        if code is not None and code < 0:
            how = f"killed by {_signal_name(-code)}"
        elif code is not None:
            how = f"exited {code}"
        else:
            how = "did not finish"
        said = self.log_tail()
        if self.problem:
            return f"{how}, its results unreadable ({self.problem})"
        return f"{how} without results" + (f"; it said: {said}" if said else "")

    def log_tail(self) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return " ".join(text[-LOG_TAIL_CHARS:].split())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal: no name
        return f"signal {number}"


def supervise(
    commands: Sequence[tuple[Worker, list[str]]],
    *,
    display: DisplayMode,
    title: str,
    duration_s: float,
) -> None:
    """Run every worker to its end (blocking), with one live panel for all of them."""
    anyio.run(_supervise, commands, display, title, duration_s)


async def _supervise(
    commands: Sequence[tuple[Worker, list[str]]],
    display: DisplayMode,
    title: str,
    duration_s: float,
) -> None:
    workers = [w for w, _ in commands]
    if first := interrupts.pending():  # Ctrl-C while loadgen was starting: stop them at once
        for worker in workers:
            worker.deliver(signal.Signals[first])
    with _forwarding_signals() as signals:
        async with anyio.create_task_group() as aside:
            aside.start_soon(_forward, signals, workers)
            aside.start_soon(_show, workers, display, title, duration_s)
            async with anyio.create_task_group() as group:
                for worker, argv in commands:
                    group.start_soon(_run_worker, worker, argv)
            aside.cancel_scope.cancel()  # all workers ended: stop the panel and forwarding


@contextlib.contextmanager
def _forwarding_signals() -> Iterator[AsyncIterator[signal.Signals]]:
    """The stop signals as an async stream while the workers run; afterwards they are only
    noted again (`loadgen.interrupts`), with no moment of the default action in between."""
    receiver = anyio.open_signal_receiver(*interrupts.STOP_SIGNALS)
    signals = receiver.__enter__()
    try:
        yield signals
    finally:
        with interrupts.held():
            receiver.__exit__(None, None, None)
            interrupts.settle()


async def _forward(signals: AsyncIterator[signal.Signals], workers: list[Worker]) -> None:
    """Every signal to every worker: a first stops them gracefully, a second at once."""
    async for sig in signals:
        interrupts.record(sig.name)
        for worker in workers:
            worker.deliver(sig)


async def _show(workers: list[Worker], display: DisplayMode, title: str, total_s: float) -> None:
    """The panel of a single run, on the workers' sum; its clock starts with the first
    worker's engine (not with the parent: each worker first spends ~0.5 s starting)."""

    def elapsed() -> float:
        started = [w.first_progress_at for w in workers if w.first_progress_at is not None]
        return time.perf_counter() - min(started) if started else 0.0

    def summed(_: float) -> LiveSnapshot:
        return sum_snapshots(w.snapshot for w in workers if w.snapshot is not None)

    await show_progress(display, title, total_s, elapsed, summed)


async def _run_worker(worker: Worker, argv: list[str]) -> None:
    """Start one worker, read its messages until its pipe closes, and wait for its end."""
    with worker.log.open("wb") as log:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=_worker_env(),
            start_new_session=True,  # a terminal's Ctrl-C reaches it through the parent only
        )
    async with process:
        worker.process = process
        if process.stdout is not None:
            await _read_messages(worker, BufferedByteReceiveStream(process.stdout))
        worker.returncode = await process.wait()


async def _read_messages(worker: Worker, stream: BufferedByteReceiveStream) -> None:
    while True:
        try:
            line = await stream.receive_until(b"\n", MAX_LINE_BYTES)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return
        except anyio.DelimiterNotFound:  # not our protocol: drop what was read, read on
            await stream.receive(MAX_LINE_BYTES)
            continue
        message = decode(line)
        if message is None:
            continue
        if message.ready:
            worker.became_ready()
        elif message.progress is not None:
            worker.snapshot = message.progress
            if worker.first_progress_at is None:
                worker.first_progress_at = time.perf_counter()
        elif message.artifact is not None:
            worker.artifact = message.artifact


def _worker_env() -> dict[str, str]:
    """The parent's environment, with this loadgen importable (as the embedded mock's)."""
    env = dict(os.environ)
    root = str(Path(loadgen.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
