"""k6-style thresholds, evaluated live and on artifacts (ARCHITECTURE.md). Expressions are
parsed with the profile (loadgen/inputs/threshold_syntax.py); this package computes what
they observe and whether they held."""
