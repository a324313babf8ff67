"""Several artifacts of one profile merged into one without loss: the parts of a fleet
(`--workers`, `--segment i/n` pods) become one run with one verdict.

Counts are summed and histograms added, so every percentile and rate is recomputed exactly
(loadgen/metrics/blocks.py); nothing is averaged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

import loadgen
from loadgen.arrivals.schedule import ExecutionSegment, ExecutionSegmentError
from loadgen.metrics.blocks import merge_blocks
from loadgen.results.artifact import SCHEMA_VERSION, Doc, ResultsError, generator_verdict
from loadgen.results.status import STATUS_SEVERITY

Span = tuple[Fraction, Fraction]  # a slice of the schedule, [start, end) as fractions of it


@dataclass(frozen=True, slots=True)
class Part:
    """One artifact to merge and the name to call it by in messages (its file)."""

    label: str
    doc: Doc


def merge_fleet(parts: Sequence[Part], *, allow_partial: bool = False) -> Doc:
    """The parts of one fleet merged, after checking they belong together: one profile, one
    target, segments that do not overlap and, unless `allow_partial`, cover the whole
    schedule. Every refusal names the files. A partial merge records what is missing."""
    if not parts:
        raise ResultsError("nothing to merge: no artifacts given")
    _check_same_run(parts)
    covered = _check_segments(parts)
    missing = _gaps(covered)
    if missing and not allow_partial:
        raise ResultsError(
            f"segments {_spans_text(missing)} of the schedule are missing from these "
            f"{len(parts)} artifacts ({', '.join(p.label for p in parts)}): give every part, "
            "or pass --allow-partial to merge what is there"
        )
    merged = merge_artifacts([p.doc for p in parts])
    merged["thresholds"] = _thresholds_on_merged(parts, merged)
    merged["run"].update(
        parts=[p.label for p in parts],
        segments=[[str(a), str(b)] for a, b in covered],
        missing_segments=[[str(a), str(b)] for a, b in missing],
    )
    return merged


def _thresholds_on_merged(parts: Sequence[Part], merged: Doc) -> list[Doc]:
    """The fleet's one verdict: the profile's thresholds (as the parts recorded them: one
    profile, so the same ones) evaluated on the merged data, never on one part's."""
    from loadgen.thresholds.evaluate import evaluate_recorded

    stopped = [e for p in parts for e in p.doc.get("thresholds", [])]
    try:
        return evaluate_recorded(parts[0].doc.get("thresholds", []), merged, stopped=stopped)
    except ValueError as exc:
        raise ResultsError(f"{parts[0].label}: {exc}") from None


def _check_same_run(parts: Sequence[Part]) -> None:
    first = parts[0]
    for part in parts[1:]:
        for key, field, what in (
            ("profile", "name", "profile"),
            ("profile", "hash", "profile content (hash)"),
            ("target", "name", "target"),
            ("target", "url", "target URL"),
        ):
            mine, theirs = part.doc[key][field], first.doc[key][field]
            if mine != theirs:
                raise ResultsError(
                    f"{part.label} and {first.label} are runs of a different {what} "
                    f"({key}.{field} {mine!r} vs {theirs!r}): merge only the parts of one "
                    "fleet, made from the same profile against the same target"
                )


def segments_of(doc: Doc) -> list[Span]:
    """The slices of the schedule an artifact holds: a merged one lists them, a single run
    records its segment (an artifact older than segments is the whole schedule)."""
    run = doc.get("run", {})
    if isinstance(run.get("segments"), list):
        return [(Fraction(a), Fraction(b)) for a, b in run["segments"]]
    if "segment_start" in run and "segment_end" in run:
        return [(Fraction(run["segment_start"]), Fraction(run["segment_end"]))]
    try:
        segment = ExecutionSegment.parse(str(run.get("segment", "0:1")))
    except ExecutionSegmentError as exc:
        raise ResultsError(f"run.segment {run.get('segment')!r} is not a segment: {exc}") from exc
    return [(segment.start, segment.end)]


def _check_segments(parts: Sequence[Part]) -> list[Span]:
    """All the parts' segments, sorted; two that share any part of the schedule would count
    its requests twice, so that is refused, naming both files."""
    owned = sorted((span, part.label) for part in parts for span in segments_of(part.doc))
    for (prev, prev_label), (span, label) in itertools.pairwise(owned):
        if span[0] < prev[1]:
            raise ResultsError(
                f"{label} (segment {_span_text(span)}) overlaps {prev_label} (segment "
                f"{_span_text(prev)}): each slice of the schedule must come from one part; "
                "is a file given twice, or two pods run with the same index?"
            )
    return [span for span, _ in owned]


def _gaps(covered: Sequence[Span]) -> list[Span]:
    """What of [0, 1) the sorted, non-overlapping spans leave out."""
    gaps, reached = [], Fraction(0)
    for start, end in covered:
        if start > reached:
            gaps.append((reached, start))
        reached = max(reached, end)
    if reached < 1:
        gaps.append((reached, Fraction(1)))
    return gaps


def _span_text(span: Span) -> str:
    return f"{span[0]}:{span[1]}"


def _spans_text(spans: Sequence[Span]) -> str:
    return ", ".join(_span_text(s) for s in spans)


def merge_artifacts(docs: Sequence[Doc]) -> Doc:
    """One artifact from several runs of the same profile against the same target (the
    workers of a distributed run): counts summed, histograms added, every percentile and
    rate recomputed. Rates use the longest duration, as the workers ran side by side.
    Series are added by wall-clock second: a part that started later is shifted."""
    if not docs:
        raise ResultsError("nothing to merge: no artifacts given")
    docs = _aligned_in_time(docs)
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
        "started_at": min(d["started_at"] for d in docs),  # ISO UTC: sorts as time
        "ended_at": max(d["ended_at"] for d in docs),
        "duration_s": duration,
        "totals": blocks["totals"],
        "scenarios": blocks["scenarios"],
        "series": blocks["series"],
        "scenario_series": blocks["scenario_series"],
        "generator": _merged_generator(docs, blocks["lag_ms"]),
        "histograms": blocks["histograms"],
        "series_histograms": blocks["series_histograms"],
        "series_service_histograms": blocks["series_service_histograms"],
        "scenario_series_histograms": blocks["scenario_series_histograms"],
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


def _aligned_in_time(docs: Sequence[Doc]) -> list[Doc]:
    """Each part's series re-numbered from the earliest part's start, so that rows are
    added by the wall-clock second they describe (parts of a fleet with an agreed start all
    start at the same second and are left as they are)."""
    starts = [_moment(d["started_at"]) for d in docs]
    origin = min(starts)
    return [
        _shifted(doc, round((start - origin).total_seconds()))
        for doc, start in zip(docs, starts, strict=True)
    ]


def _shifted(doc: Doc, shift: int) -> Doc:
    """`doc` with every per-second block `shift` seconds later (rows and histograms alike)."""
    if not shift:
        return doc

    def rows(block: Sequence[Doc]) -> list[Doc]:
        return [{**row, "t": row["t"] + shift} for row in block]

    def by_second(block: dict[str, str]) -> dict[str, str]:
        return {str(int(t) + shift): text for t, text in block.items()}

    out = {
        **doc,
        "series": rows(doc["series"]),
        "series_histograms": by_second(doc["series_histograms"]),
    }
    if "series_service_histograms" in doc:
        out["series_service_histograms"] = by_second(doc["series_service_histograms"])
    if "scenario_series" in doc:
        out["scenario_series"] = {n: rows(r) for n, r in doc["scenario_series"].items()}
    if "scenario_series_histograms" in doc:
        out["scenario_series_histograms"] = {
            name: {kind: by_second(block) for kind, block in kinds.items()}
            for name, kinds in doc["scenario_series_histograms"].items()
        }
    return out


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
