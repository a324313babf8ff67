"""Ctrl-C and SIGTERM around a run: from the first line of `main()` to the exit, every
moment has a handler that keeps the README's promise (exit 130, an artifact).

While the engine runs, its own handlers on the event loop stop it gracefully (`runner`).
Before that (imports, reading the profile, the guard, starting the mock) a first signal is
only noted here, instead of a KeyboardInterrupt surfacing in the middle of whatever runs:
the run then stops before its first request and writes an `interrupted` artifact. A second
one raises KeyboardInterrupt: stop at once (the runner still writes the artifact once it
has started). After the engine (stopping the mock, writing the artifact) signals are only
noted: the results are being saved and nothing is left to stop.

`STOP_SIGNALS` and `held()` also serve the embedded mock's process (`loadgen.mock`).
"""

from __future__ import annotations

import signal
from types import FrameType, TracebackType

# Imported first thing by `loadgen.__main__`: only `signal` here, nothing slow to import.

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[str] = []  # names of the stop signals received, in order
_deferring = False  # `defer` was called: this process is `loadgen run` (not a library user)
_raise_on_second = True


def defer() -> None:
    """Install the noting handlers for a run (main thread only, as any signal handler)."""
    global _deferring
    _deferring = True
    _install(raise_on_second=True)


def settle() -> None:
    """The engine is done: from now on signals are only noted (if `defer` was called; a
    library caller keeps the default handlers the event loop restores)."""
    if _deferring:
        _install(raise_on_second=False)


def _install(*, raise_on_second: bool) -> None:
    global _raise_on_second
    _raise_on_second = raise_on_second
    for sig in STOP_SIGNALS:
        signal.signal(sig, _note)


def _note(signum: int, frame: FrameType | None) -> None:
    received = record(signal.Signals(signum).name)
    if received > 1 and _raise_on_second:
        raise KeyboardInterrupt


def record(name: str) -> int:
    """Note one stop signal (also the engine's handlers do); returns how many so far."""
    _received.append(name)
    return len(_received)


def pending() -> str | None:
    """The first stop signal received so far, if any."""
    return _received[0] if _received else None


class held:  # lower case: used like contextlib's managers, `with held():`
    """Block the stop signals in this thread while handlers change hands: one arriving in
    between waits for the new handler instead of meeting the default action."""

    def __enter__(self) -> None:
        self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)


def is_run_command(argv: list[str]) -> bool:
    """`loadgen run ...`: the first word that is not an option."""
    words = [a for a in argv if not a.startswith("-")]
    return bool(words) and words[0] == "run"
