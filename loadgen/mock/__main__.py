"""`python -m loadgen.mock [options]`: the mock in its own process (used by `LocalMock`).

Internal entry point; users run `loadgen serve`. Prints the URL on stdout once listening,
exits 0 on SIGTERM/SIGINT (or, with `--stop-on-stdin-eof`, when stdin closes), 1 if it
cannot listen, 2 on bad options. `--parent-pid` makes it die with that parent on Linux
(PR_SET_PDEATHSIG) even if the pipe on stdin were somehow kept open elsewhere.
"""

from __future__ import annotations

import signal

from loadgen.interrupts import STOP_SIGNALS

# Blocked before the slow imports (LocalMock starts us with them blocked already): a
# SIGTERM sent meanwhile is held until the server's handlers are in place
# (`loadgen.mock.runner`), then stops it cleanly.
signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

import argparse  # noqa: E402
import ctypes  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from loadgen.mock.config import add_arguments, from_args  # noqa: E402
from loadgen.mock.runner import run  # noqa: E402

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _ready(url: str) -> None:
    print(url, flush=True)


def _die_with_parent(parent_pid: int) -> bool:
    """Ask Linux for SIGTERM when the parent dies; False if it is already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: stdin's end of file still stops us
            pass
    # The parent may have died before prctl took effect: then we were re-parented already.
    return os.getppid() == parent_pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadgen.mock", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--stop-on-stdin-eof", action="store_true")
    parser.add_argument("--parent-pid", type=int)
    ns = parser.parse_args(argv)
    try:
        config = from_args(ns)
    except ValueError as exc:
        parser.error(str(exc))
    if ns.parent_pid is not None and not _die_with_parent(ns.parent_pid):
        return 0
    try:
        run(
            config,
            ready=_ready,
            stop_on_eof=sys.stdin.fileno() if ns.stop_on_stdin_eof else None,
            hold_signals=True,
        )
    except OSError as exc:  # typically the port is taken
        print(f"loadgen mock: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
