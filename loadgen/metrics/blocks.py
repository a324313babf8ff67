"""The measurement blocks of the results artifact, from a run or from merged artifacts.

Every block is either a *count* (additive: merging artifacts sums it) or *derived* from
counts, histograms and the duration (rates, percentiles, means). Building and merging both
end in `finish_blocks`, so merging the artifacts of two halves of a run gives exactly the
artifact of the whole run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.metrics import hdr
from loadgen.metrics.outcomes import Outcomes
from loadgen.metrics.recorder import Measurements
from loadgen.metrics.series import (
    NO_PERCENTILES,
    STORED_COUNTERS,
    make_row,
    row_percentiles,
    second_time,
    stored_counts,
)

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


def _merged_rows(
    sources: Sequence[tuple[Doc, Sequence[Doc]]],
    latency: Mapping[int, HdrHistogram],
    service: Mapping[int, HdrHistogram],
    last: int,
) -> list[Doc]:
    """Rows summed by `t` from (artifact, its rows) pairs, percentiles recomputed from the
    merged per-second histograms; `time` the earliest any artifact gives that second."""
    counts: dict[int, list[int]] = {}
    times: dict[int, str] = {}
    for doc, rows in sources:
        for source in rows:
            acc = counts.setdefault(source["t"], [0] * STORED_COUNTERS)
            for i, n in enumerate(stored_counts(source)):
                acc[i] += n
            time = source.get("time") or _time_of(doc, source["t"])
            if time is not None:
                times[source["t"]] = min(time, times.get(source["t"], time))
    out: list[Doc] = []
    in_flight = 0
    empty = [0] * STORED_COUNTERS
    for t in range(max(last, *counts.keys(), *latency.keys(), -1) + 1):
        h, s = latency.get(t), service.get(t)
        row = make_row(
            t,
            counts.get(t, empty),
            in_flight,
            row_percentiles(h) if h is not None else NO_PERCENTILES,
            row_percentiles(s) if s is not None else NO_PERCENTILES,
            times.get(t),
        )
        in_flight = row["in_flight"]
        out.append(row)
    return out


def _time_of(doc: Doc, t: int) -> str | None:
    started = doc.get("started_at")
    if not isinstance(started, str):
        return None
    return second_time(datetime.fromisoformat(started.replace("Z", "+00:00")), t)


def _add_histograms(into: dict[int, HdrHistogram], encoded: Mapping[str, str]) -> None:
    for t, text in encoded.items():
        hdr.add_into(into.setdefault(int(t), hdr.new_histogram()), hdr.decode(text))


def merge_series(docs: Sequence[Doc]) -> tuple[list[Doc], dict[str, str]]:
    """Rows summed by `t`; per-second percentiles recomputed from merged histograms."""
    series, histograms = merge_series_blocks(docs)
    return series["series"], histograms


def merge_series_blocks(docs: Sequence[Doc]) -> tuple[Doc, dict[str, str]]:
    """The series blocks of several artifacts merged: {"series", "series_service_histograms",
    "scenario_series", "scenario_series_histograms"} and the merged `series_histograms`.
    Lossless: counts sum by second and percentiles come from the summed histograms."""
    latency: dict[int, HdrHistogram] = {}
    service: dict[int, HdrHistogram] = {}
    for doc in docs:
        _add_histograms(latency, doc["series_histograms"])
        _add_histograms(service, doc.get("series_service_histograms", {}))
    rows = _merged_rows([(d, d["series"]) for d in docs], latency, service, -1)
    names = sorted({name for d in docs for name in d.get("scenario_series", {})})
    scenario_series: dict[str, list[Doc]] = {}
    scenario_histograms: dict[str, dict[str, dict[str, str]]] = {}
    for name in names:
        own_latency: dict[int, HdrHistogram] = {}
        own_service: dict[int, HdrHistogram] = {}
        for doc in docs:
            encoded = doc.get("scenario_series_histograms", {}).get(name, {})
            _add_histograms(own_latency, encoded.get("latency", {}))
            _add_histograms(own_service, encoded.get("service", {}))
        sources = [
            (d, d["scenario_series"][name]) for d in docs if name in d.get("scenario_series", {})
        ]
        scenario_series[name] = _merged_rows(sources, own_latency, own_service, len(rows) - 1)
        scenario_histograms[name] = {
            "latency": _encode_by_t(own_latency),
            "service": _encode_by_t(own_service),
        }
    blocks: Doc = {
        "series": rows,
        "series_service_histograms": _encode_by_t(service),
        "scenario_series": scenario_series,
        "scenario_series_histograms": scenario_histograms,
    }
    return blocks, _encode_by_t(latency)


def _encode_by_t(histograms: Mapping[int, HdrHistogram]) -> dict[str, str]:
    return {str(t): hdr.encode(h) for t, h in sorted(histograms.items())}


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
    series_blocks, series_histograms = merge_series_blocks(docs)
    return {
        "totals": totals,
        "scenarios": dict(sorted(finished.items())),
        **series_blocks,
        "series_histograms": series_histograms,
        "histograms": encode_all(histograms),
        "lag_ms": lag_block(histograms.get("lag", hdr.new_histogram())),
    }
