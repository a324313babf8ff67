"""The run's signal handlers: while the engine runs, a first SIGINT or SIGTERM stops it
gracefully (requests in flight get the grace period) and a second gives up at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from loadgen import interrupts
from loadgen.run.engine import Engine


@contextlib.contextmanager
def signals_stopping(engine: Engine) -> Iterator[None]:
    """While the engine runs, a first SIGINT/SIGTERM stops it gracefully and a second at
    once; before and after, signals are only noted (`loadgen.interrupts`)."""
    _take_signals(engine)
    try:
        yield
    finally:
        _give_back_signals()


def _take_signals(engine: Engine) -> None:
    """The engine's handlers replace the noting ones (`loadgen.interrupts`); a signal noted
    while starting stops the run before its first request."""
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if interrupts.record(name) == 1:
            engine.request_stop("interrupted", f"interrupted by {name}")
        else:
            engine.cancel_now()

    for sig in interrupts.STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig.name)
    if first := interrupts.pending():
        engine.request_stop("interrupted", f"interrupted by {first} before the first request")


def _give_back_signals() -> None:
    """Removing a loop handler restores the default action (death by SIGTERM): note the
    signals again instead, with no gap between the two."""
    loop = asyncio.get_running_loop()
    with interrupts.held():
        for sig in interrupts.STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        interrupts.settle()
