"""Human-facing output: the live display during a run, the summary after it, and the text
of a plan."""
