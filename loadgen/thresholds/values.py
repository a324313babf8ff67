"""The value a threshold compares: one aggregation of one metric, over the whole run or over
one window of seconds. Pure functions of `Observations`; None means there was no data
(no responses for a percentile, nothing sent for a share), which never passes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgen.inputs.models import ThresholdSpec
from loadgen.metrics import hdr
from loadgen.metrics.series import COUNTER_FIELDS
from loadgen.thresholds.observations import Observations

Doc = dict[str, Any]


def whole_run(spec: ThresholdSpec, obs: Observations) -> float | None:
    if spec.metric in ("latency", "service_time"):
        h = obs.responses(spec.scenario) if spec.metric == "latency" else obs.service(spec.scenario)
        return None if h is None else trend(h, spec)
    block = obs.block(spec.scenario)
    if block is None:
        return None
    return _count_value(spec, _counts_of_block(block, obs.totals, spec.scenario), obs.duration_s)


def trend(h: HdrHistogram, spec: ThresholdSpec) -> float | None:
    """p(N), med, avg, min or max of `h`, in ms."""
    if not hdr.total_count(h):
        return None
    if spec.percentile is not None:
        return hdr.percentile_ms(h, spec.percentile)
    stats = hdr.stats_ms(h)
    return stats["mean" if spec.aggregation == "avg" else spec.aggregation]


def _counts_of_block(block: Doc, totals: Doc, scenario: str | None) -> dict[str, float]:
    """The counters every count metric is made of, from an artifact's count block."""
    status = block["status"]
    attempts = block["completed"] + block["errors"]
    planned = totals["planned"] if scenario is None else block["count"] + block["dropped"]
    return {
        "attempts": attempts,
        "failed": attempts - status.get("2xx", 0),  # non-2xx answers and no answer
        "429": status.get("429", 0),
        "errors": block["errors"],
        "dropped": block["dropped"],
        "planned": planned,
        "sent": block["sent"] if "sent" in block else block["count"],
    }


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _count_value(spec: ThresholdSpec, c: dict[str, float], duration_s: float) -> float | None:
    """count, rate or ratio of a counted metric; a share's rate is of attempts (of planned
    arrivals for `dropped`), `requests`' rate is per second."""
    metric, aggregation = spec.metric, spec.aggregation
    if metric == "achieved_rate":
        return _ratio(c["sent"], c["planned"])
    part, whole = {  # the counters a metric is made of; None: per second of the run
        "failed": ("failed", "attempts"),
        "http_429": ("429", "attempts"),
        "errors": ("errors", "attempts"),
        "dropped": ("dropped", "planned"),
        "requests": ("attempts", None),
    }[metric]
    numerator = c[part]
    denominator = c[whole] if whole is not None else duration_s
    if aggregation == "count":
        return float(numerator)
    return _ratio(numerator, denominator)


def windows(spec: ThresholdSpec, obs: Observations) -> list[float | None]:
    """The value in every window of `spec.window_s` whole seconds of the run's complete
    seconds (one window over them all if the run was shorter): the threshold must hold in
    each."""
    width = int(spec.window_s or 1)
    rows = {int(row["t"]): row for row in obs.series}
    if not rows:
        return []
    last = max(rows)
    if obs.duration_s >= 1:  # only complete seconds: the last, partial one would skew a rate
        last = min(last, int(obs.duration_s) - 1)
    starts = range(max(1, last + 2 - width))  # full windows; a shorter run is one window
    return [_window_value(spec, obs, rows, range(s, min(s + width, last + 1))) for s in starts]


def _window_value(
    spec: ThresholdSpec, obs: Observations, rows: dict[int, Doc], seconds: Sequence[int]
) -> float | None:
    if spec.metric == "latency":
        merged = hdr.merged(h for t in seconds if (h := obs.second_histogram(t)) is not None)
        return trend(merged, spec)
    summed: dict[str, float] = dict.fromkeys(COUNTER_FIELDS, 0)  # the series rows' counters
    for t in seconds:
        row = rows.get(t)
        if row is not None:
            for key in summed:
                summed[key] += row.get(key, 0)
    counts = {
        "attempts": summed["completed"] + summed["errors"],
        "429": summed["status_429"],
        "errors": summed["errors"],
        "dropped": summed["dropped"],
        "planned": summed["planned"],
        "sent": summed["started"],
    }
    if spec.metric == "requests":
        counts["attempts"] = summed["started"]
    return _count_value(spec, counts, float(len(seconds)))
