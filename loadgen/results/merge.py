"""Several artifacts of one profile merged into one without loss: the parts of a fleet
(`--workers`, `--segment i/n` pods) become one run with one verdict.

Counts are summed and histograms added, so every percentile and rate is recomputed exactly
(loadgen/metrics/blocks.py); nothing is averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import loadgen
from loadgen.metrics.blocks import merge_blocks
from loadgen.results.artifact import SCHEMA_VERSION, Doc, ResultsError, generator_verdict
from loadgen.results.status import STATUS_SEVERITY


def merge_artifacts(docs: Sequence[Doc]) -> Doc:
    """One artifact from several runs of the same profile against the same target (the
    workers of a distributed run): counts summed, histograms added, every percentile and
    rate recomputed. Rates use the longest duration, as the workers ran side by side."""
    if not docs:
        raise ResultsError("nothing to merge: no artifacts given")
    first = docs[0]
    for i, doc in enumerate(docs[1:], start=2):
        for key, field in (("profile", "hash"), ("target", "name"), ("target", "url")):
            if doc[key][field] != first[key][field]:
                raise ResultsError(
                    f"cannot merge artifact {i} with artifact 1: {key}.{field} differs "
                    f"({doc[key][field]!r} vs {first[key][field]!r})"
                )
    duration = max(d["duration_s"] for d in docs)
    try:
        blocks = merge_blocks(docs, duration)
    except ValueError as exc:
        raise ResultsError(f"cannot merge artifacts: {exc}") from exc
    status = max((d["status"] for d in docs), key=STATUS_SEVERITY.__getitem__)
    reasons = [
        f"artifact {i}: {d['status_reason']}" for i, d in enumerate(docs, 1) if d["status_reason"]
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": loadgen.__version__,
        "status": status,
        "status_reason": "; ".join(reasons) or None,
        "profile": dict(first["profile"]),
        "target": {"name": first["target"]["name"], "url": first["target"]["url"]},
        "run": {"merged_from": len(docs), "runs": [d["run"] for d in docs]},
        "started_at": min(d["started_at"] for d in docs),
        "ended_at": max(d["ended_at"] for d in docs),
        "duration_s": duration,
        "totals": blocks["totals"],
        "scenarios": blocks["scenarios"],
        "series": blocks["series"],
        "generator": _merged_generator(docs, blocks["lag_ms"]),
        "histograms": blocks["histograms"],
        "series_histograms": blocks["series_histograms"],
        "thresholds": [],
    }


def _merged_generator(docs: Sequence[Doc], lag: Doc) -> Doc:
    """Any worker that was its own bottleneck makes the merged run suspect too."""
    cpu = max(d["generator"]["cpu_percent"] for d in docs)
    reasons = [
        f"artifact {i}: {d['generator']['reason']}"
        for i, d in enumerate(docs, 1)
        if d["generator"]["bottleneck"]
    ]
    bottleneck, reason = generator_verdict(cpu, lag["p99"] or 0.0)
    if reason and not reasons:
        reasons.append(reason)
    return {
        "cpu_percent": cpu,
        "lag_ms": lag,
        "bottleneck": bottleneck or bool(reasons),
        "reason": "; ".join(reasons) or None,
    }
