"""The measurement blocks of the results artifact, from a run or from merged artifacts.

Every block is either a *count* (additive: merging artifacts sums it) or *derived* from
counts, histograms and the duration (rates, percentiles, means). Building and merging both
end in `finish_blocks`, so merging the artifacts of two halves of a run gives exactly the
artifact of the whole run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.metrics import hdr
from loadgen.metrics.outcomes import Outcomes
from loadgen.metrics.recorder import Measurements
from loadgen.metrics.series import COUNTER_FIELDS, PERCENTILE_FIELDS, row_percentiles

Doc = dict[str, Any]
DERIVED_TOTALS = ("achieved_rps", "planned_rps")
DERIVED_SCENARIO = ("rate", "latency_ms", "service_ms")


def _outcome_counts(outcomes: Outcomes, sent: int) -> Doc:
    tally = outcomes.tally()
    return {
        **tally.as_dict(),
        "status_codes": outcomes.status_codes(),
        "retries": outcomes.retries(),
        # in flight when the artifact was built; never negative, even for a partial record
        "unfinished": max(sent - tally.completed - tally.errors, 0),
    }


def count_blocks(m: Measurements) -> tuple[Doc, dict[str, Doc]]:
    """The additive part of `totals` and of each scenario block."""
    scenarios: dict[str, Doc] = {}
    total = Outcomes()
    for s in m.scenarios:
        total.merge(s.outcomes)
        scenarios[s.name] = {
            "count": s.sent,
            "dropped": s.dropped,
            **_outcome_counts(s.outcomes, s.sent),
        }
    sent = sum(s.sent for s in m.scenarios)
    totals: Doc = {
        "planned": m.planned,
        "sent": sent,
        "dropped": sum(s.dropped for s in m.scenarios),
        **_outcome_counts(total, sent),
        "by_attempt": {
            "first": total.tally(retry=False).as_dict(),
            "retry": total.tally(retry=True).as_dict(),
        },
        "retry_after": {"count": m.retry_after_count, "max_s": m.retry_after_max_s},
        "clamped_values": m.clamped,
    }
    return totals, scenarios


def histogram_block(m: Measurements) -> dict[str, HdrHistogram]:
    """Named histograms; overall ones are "latency", "service" and "error_latency" (no
    scenario can clash). "error_latency" is the part of "latency" without a response."""
    out: dict[str, HdrHistogram] = {
        "latency": hdr.merged(s.latency for s in m.scenarios),
        "service": hdr.merged(s.service for s in m.scenarios),
        "error_latency": hdr.merged(s.error_latency for s in m.scenarios),
        "lag": m.lag,
    }
    for s in m.scenarios:
        out[f"latency:{s.name}"] = s.latency
        out[f"service:{s.name}"] = s.service
        out[f"error_latency:{s.name}"] = s.error_latency
    return out


def _rate(count: int, duration_s: float) -> float:
    return round(count / duration_s, 3) if duration_s > 0 else 0.0


def lag_block(lag: HdrHistogram) -> Doc:
    p50, p99 = hdr.percentiles_us(lag, (50.0, 99.0))
    stats = hdr.stats_ms(lag)
    return {
        "p50": None if p50 is None else p50 / 1000,
        "p99": None if p99 is None else p99 / 1000,
        "max": stats["max"],
    }


def finish_blocks(
    totals: Doc,
    scenarios: Mapping[str, Doc],
    histograms: Mapping[str, HdrHistogram],
    duration_s: float,
) -> tuple[Doc, dict[str, Doc]]:
    """Add the derived fields (rates, latency and service stats) to the count blocks."""
    totals = {
        **totals,
        "achieved_rps": _rate(totals["sent"], duration_s),
        "planned_rps": _rate(totals["planned"], duration_s),
    }
    finished: dict[str, Doc] = {}
    for name, block in scenarios.items():
        finished[name] = {
            **block,
            "rate": _rate(block["count"], duration_s),
            "latency_ms": hdr.stats_ms(histograms[f"latency:{name}"]),
            "service_ms": hdr.stats_ms(histograms[f"service:{name}"]),
        }
    return totals, finished


def encode_all(histograms: Mapping[str, HdrHistogram]) -> dict[str, str]:
    return {name: hdr.encode(h) for name, h in sorted(histograms.items())}


# -- merging ---------------------------------------------------------------------------------


def add_counts(a: Any, b: Any, key: str = "") -> Any:
    """Sum two count blocks: ints add, dicts add key by key, `max_s` takes the larger."""
    if key == "max_s":
        values = [v for v in (a, b) if v is not None]
        return max(values) if values else None
    if isinstance(a, dict) and isinstance(b, dict):
        return {
            k: add_counts(a.get(k, _zero(b.get(k))), b.get(k, _zero(a.get(k))), k)
            for k in a.keys() | b.keys()
        }
    if type(a) is int and type(b) is int:
        return a + b
    raise ValueError(f"cannot merge {key or 'value'}: {a!r} and {b!r}")


def _zero(like: Any) -> Any:
    if isinstance(like, dict):
        return {k: _zero(v) for k, v in like.items()}
    return None if like is None or isinstance(like, float) else 0


def _counts_only(block: Doc, derived: Sequence[str]) -> Doc:
    return {k: v for k, v in block.items() if k not in derived}


def merge_series(docs: Sequence[Doc]) -> tuple[list[Doc], dict[str, str]]:
    """Rows summed by `t`; per-second percentiles recomputed from merged histograms."""
    counts: dict[int, list[int]] = {}
    per_second: dict[int, HdrHistogram] = {}
    for doc in docs:
        for source in doc["series"]:
            acc = counts.setdefault(source["t"], [0] * len(COUNTER_FIELDS))
            for i, field in enumerate(COUNTER_FIELDS):
                acc[i] += source[field]
        for t, text in doc["series_histograms"].items():
            hdr.add_into(per_second.setdefault(int(t), hdr.new_histogram()), hdr.decode(text))
    rows: list[Doc] = []
    empty = [0] * len(COUNTER_FIELDS)
    for t in range(max(counts.keys() | per_second.keys(), default=-1) + 1):
        row: Doc = {"t": t, **dict(zip(COUNTER_FIELDS, counts.get(t, empty), strict=True))}
        h = per_second.get(t)
        pcts = row_percentiles(h) if h is not None else (None,) * len(PERCENTILE_FIELDS)
        row.update(zip((k for k, _ in PERCENTILE_FIELDS), pcts, strict=True))
        rows.append(row)
    return rows, encode_all({str(t): h for t, h in per_second.items()})


def merge_blocks(docs: Sequence[Doc], duration_s: float) -> Doc:
    """totals, scenarios, series, series_histograms, histograms and generator.lag_ms of
    several artifacts merged (counts summed, histograms added, derived fields recomputed)."""
    totals: Doc = _counts_only(docs[0]["totals"], DERIVED_TOTALS)
    scenarios: dict[str, Doc] = {}
    histograms: dict[str, HdrHistogram] = {}
    for i, doc in enumerate(docs):
        if i:
            totals = add_counts(totals, _counts_only(doc["totals"], DERIVED_TOTALS))
        for name, block in doc["scenarios"].items():
            counts = _counts_only(block, DERIVED_SCENARIO)
            scenarios[name] = add_counts(scenarios[name], counts) if name in scenarios else counts
        for name, text in doc["histograms"].items():
            hdr.add_into(histograms.setdefault(name, hdr.new_histogram()), hdr.decode(text))
    totals, finished = finish_blocks(totals, scenarios, histograms, duration_s)
    series, series_histograms = merge_series(docs)
    return {
        "totals": totals,
        "scenarios": dict(sorted(finished.items())),
        "series": series,
        "series_histograms": series_histograms,
        "histograms": encode_all(histograms),
        "lag_ms": lag_block(histograms.get("lag", hdr.new_histogram())),
    }
