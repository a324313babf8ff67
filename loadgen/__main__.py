"""`python -m loadgen` runs the same CLI as the `loadgen` console script."""

from loadgen.cli import main

if __name__ == "__main__":
    main()
