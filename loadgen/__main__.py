"""`python -m loadgen` and the `loadgen` console script: the CLI, with Ctrl-C covered from
loadgen's first line (see `loadgen.interrupts`), before the heavy imports of `loadgen.cli`."""

import sys

from loadgen import interrupts

if interrupts.is_run_command(sys.argv[1:]):
    # At import, not in main(): the console script imports this module before calling
    # main(), and a Ctrl-C in between must already stop the run before its first request.
    interrupts.defer()


def main() -> None:
    try:
        from loadgen.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:  # a second Ctrl-C while importing, or outside a command
        print("loadgen: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
