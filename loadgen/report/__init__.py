"""Human-facing output: the live display during a run and the summary after it."""
