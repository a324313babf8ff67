"""`python -m loadgen.mock [options]`: the mock in its own process (used by `LocalMock`).

Internal entry point; users run `loadgen serve`. Prints the URL on stdout once listening,
exits 0 on SIGTERM/SIGINT, 1 if it cannot listen, 2 on bad options.
"""

from __future__ import annotations

import argparse
import sys

from loadgen.mock.config import add_arguments, from_args
from loadgen.mock.runner import run


def _ready(url: str) -> None:
    print(url, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadgen.mock", description=__doc__)
    add_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        config = from_args(ns)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        run(config, ready=_ready)
    except OSError as exc:  # typically the port is taken
        print(f"loadgen mock: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
