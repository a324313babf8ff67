"""k6-style threshold expressions: the metric table, and the parser the profile reader uses.

`parse_threshold(key, expression)` turns `"latency{scenario:track}"` + `"p(95)<250 over 30s"`
into a `ThresholdSpec`, or raises `ThresholdSyntaxError` whose message says what is wrong
and whose `fix` suggests the closest known word ("did you mean p(95)?"). Pure and light:
`lint` and `plan` read profiles with it, so it imports no metrics, transport or clock. It
lives with the inputs because a bad expression is a profile error like any other (exit 3,
file:line); loadgen/thresholds/ evaluates what it parses.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from loadgen.durations import DurationError, parse_duration
from loadgen.inputs.models import ThresholdSpec
from loadgen.inputs.validation import Reader, join

OPERATORS = ("<=", ">=", "===", "==", "!=", "<", ">")  # longest first: `<=` before `<`
TREND = ("p(N)", "avg", "min", "max", "med")
MAX_WINDOW_S = 86400.0


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What a metric accepts: its aggregations, with a tag, and over a window."""

    meaning: str
    aggregations: tuple[str, ...]
    tagged: tuple[str, ...]  # aggregations allowed with `{scenario:NAME}`
    windowed: tuple[str, ...]  # aggregations allowed with `over 30s` (untagged only)


_SHARE = ("rate", "count")
METRICS: dict[str, MetricInfo] = {
    "latency": MetricInfo("ms from the planned start to the answer", TREND, TREND, TREND),
    "service_time": MetricInfo("ms from the actual send to the answer", TREND, TREND, ()),
    "failed": MetricInfo(
        "attempts answered non-2xx or not at all; rate = their share of attempts",
        _SHARE,
        _SHARE,
        (),
    ),
    "http_429": MetricInfo("attempts answered 429; rate = their share", _SHARE, _SHARE, _SHARE),
    "errors": MetricInfo(
        "attempts with no answer (transport errors); rate = their share", _SHARE, _SHARE, _SHARE
    ),
    "dropped": MetricInfo(
        "arrivals dropped (max_in_flight, or missed by a late start); rate = share of planned",
        _SHARE,
        _SHARE,
        _SHARE,
    ),
    "requests": MetricInfo(
        "attempts made, retries included; rate = per second", _SHARE, _SHARE, _SHARE
    ),
    "achieved_rate": MetricInfo("requests sent / arrivals planned", ("ratio",), (), ("ratio",)),
}
ALIASES = {
    "http_req_duration": "latency",
    "http_req_failed": "failed",
    "http_reqs": "requests",
    "dropped_iterations": "dropped",
}
TAGS = ("scenario",)

_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\{(.*)\})?\s*$")
_EXPRESSION = re.compile(
    r"^\s*(?P<agg>[A-Za-z_][A-Za-z0-9_.]*(?:\([^)]*\))?)\s*(?P<op><=|>=|===|==|!=|<|>)\s*"
    r"(?P<bound>[^\s]+)\s*(?:over\s+(?P<window>\S+))?\s*$"
)
_PERCENTILE = re.compile(r"^p\((\d+(?:\.\d+)?)\)$")


class ThresholdSyntaxError(ValueError):
    """A threshold key or expression that cannot be used; `fix` says what would."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


def _did_you_mean(word: str, options: list[str], fallback: str) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"did you mean {close[0]}?" if close else fallback


def parse_key(key: str, scenarios: tuple[str, ...] | None = None) -> tuple[str, str | None]:
    """(canonical metric, scenario or None) of a `[thresholds]` key; `scenarios` (the
    profile's names) checks the tag's value when given."""
    match = _KEY.match(key)
    if match is None:
        raise ThresholdSyntaxError(
            "is not a metric name with optional tags",
            'write e.g. "latency{scenario:track}" = ["p(95)<250"]',
        )
    name, tags = match.group(1), match.group(2)
    metric = ALIASES.get(name, name)
    if metric not in METRICS:
        known = sorted([*METRICS, *ALIASES])
        raise ThresholdSyntaxError(
            f"unknown metric `{name}`", _did_you_mean(name, known, f"known: {', '.join(known)}")
        )
    if tags is None:
        return metric, None
    return metric, _parse_tags(tags, scenarios)


def _parse_tags(text: str, scenarios: tuple[str, ...] | None) -> str:
    tag, colon, value = (part.strip() for part in text.partition(":"))
    if not colon or not value:
        raise ThresholdSyntaxError(
            f"tag `{{{text}}}` is not `{{name:value}}`", "write e.g. {scenario:track}"
        )
    if tag not in TAGS:
        raise ThresholdSyntaxError(
            f"unknown tag `{tag}`", _did_you_mean(tag, list(TAGS), "the known tag is `scenario`")
        )
    if scenarios is not None and value not in scenarios:
        names = list(scenarios)
        raise ThresholdSyntaxError(
            f"no scenario is named `{value}`",
            _did_you_mean(value, names, f"the profile's scenarios: {', '.join(names)}"),
        )
    return value


def _parse_aggregation(word: str, allowed: tuple[str, ...], metric: str) -> str:
    percentile = _PERCENTILE.match(word)
    if percentile is not None and "p(N)" in allowed:
        n = float(percentile.group(1))
        if not 0 < n <= 100:
            raise ThresholdSyntaxError(f"`{word}`: a percentile is above 0 and at most 100")
        return f"p({percentile.group(1)})"
    if word in allowed:
        return word
    options = [a.replace("p(N)", "p(95)") for a in allowed]
    raise ThresholdSyntaxError(
        f"`{word}` is not an aggregation of {metric}",
        _did_you_mean(word, options, f"{metric} takes {', '.join(options)}"),
    )


def parse_threshold(
    key: str,
    expression: str,
    *,
    scenarios: tuple[str, ...] | None = None,
    abort_on_fail: bool = False,
    delay_abort_eval_s: float = 0.0,
) -> ThresholdSpec:
    """The threshold `key = [expression]` of a profile; raises ThresholdSyntaxError."""
    metric, scenario = parse_key(key, scenarios)
    info = METRICS[metric]
    match = _EXPRESSION.match(expression)
    if match is None:
        word = expression.strip().split(" ")[0].split("<")[0].split(">")[0].split("=")[0]
        example = "p(95)<250" if "p(N)" in info.aggregations else f"{info.aggregations[0]}<10"
        hint = _did_you_mean(word, [a.replace("p(N)", "p(95)") for a in info.aggregations], "")
        raise ThresholdSyntaxError(
            "is not `aggregation operator number [over duration]`",
            f"{hint + ' ' if hint else ''}write e.g. {example!r} or {example + ' over 30s'!r}",
        )
    allowed = info.tagged if scenario is not None else info.aggregations
    if scenario is not None and not info.tagged:
        raise ThresholdSyntaxError(f"{metric} takes no scenario tag", f"write `{metric}` alone")
    aggregation = _parse_aggregation(match["agg"], allowed, metric)
    bound = _parse_bound(match["bound"])
    window = _parse_window(match["window"], metric, scenario, aggregation)
    return ThresholdSpec(
        name=key,
        metric=metric,
        scenario=scenario,
        expression=expression,
        aggregation=aggregation,
        operator="==" if match["op"] == "===" else match["op"],
        bound=bound,
        window_s=window,
        abort_on_fail=abort_on_fail,
        delay_abort_eval_s=delay_abort_eval_s,
    )


def _parse_bound(text: str) -> float:
    try:
        bound = float(text)
    except ValueError:
        raise ThresholdSyntaxError(
            f"`{text}` is not a number", "write a plain number such as 250 or 0.01"
        ) from None
    if not math.isfinite(bound):
        raise ThresholdSyntaxError(f"`{text}` is not a finite number", "write e.g. 250")
    return bound


def _parse_window(
    text: str | None, metric: str, scenario: str | None, aggregation: str
) -> float | None:
    if text is None:
        return None
    try:
        seconds = parse_duration(text, maximum=MAX_WINDOW_S)
    except DurationError as exc:
        raise ThresholdSyntaxError(f"window `{text}`: {exc}", 'write e.g. "over 30s"') from None
    if seconds < 1 or not seconds.is_integer():
        raise ThresholdSyntaxError(
            f"window `{text}`: windows are whole seconds, at least 1s", 'write e.g. "over 30s"'
        )
    generic = "p(N)" if aggregation.startswith("p(") else aggregation
    if scenario is not None or generic not in METRICS[metric].windowed:
        windowed = [m for m, i in METRICS.items() if i.windowed]
        raise ThresholdSyntaxError(
            f"{metric}{'{scenario:...}' if scenario else ''} {aggregation} has no per-second "
            "data for a window",
            f"windows work untagged on {', '.join(windowed)}; drop `over {text}`",
        )
    return seconds


def format_threshold(spec: ThresholdSpec) -> str:
    """The canonical text of `spec`'s expression (parses back to the same threshold)."""
    window = "" if spec.window_s is None else f" over {spec.window_s:g}s"
    return f"{spec.aggregation}{spec.operator}{spec.bound!r}{window}"


THRESHOLD_OBJECT_KEYS = ("threshold", "abort_on_fail", "delay_abort_eval")


def read_thresholds(
    r: Reader, table: dict[str, Any], scenarios: tuple[str, ...]
) -> tuple[ThresholdSpec, ...]:
    """`[thresholds]`: each key a metric, each value an expression, an object
    `{threshold = "...", abort_on_fail = true, delay_abort_eval = "30s"}` or a list of
    them (k6's forms). Every problem is recorded on `r` with its key's line."""
    specs: list[ThresholdSpec] = []
    for key, value in table.items():
        where = join("thresholds", key)
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, str | dict) for i in items):
            r.problem(
                where,
                "must be a k6 expression, an object with `threshold`, or a list of them",
                value=value,
                fix=f'write e.g. {key} = ["p(95)<200"]',
            )
            continue
        for index, item in enumerate(items):
            path = join(where, index) if isinstance(value, list) else where
            spec = _read_one(r, key, item, path, scenarios)
            if spec is not None:
                specs.append(spec)
    return tuple(specs)


def _read_one(
    r: Reader, key: str, item: str | dict[str, Any], path: str, scenarios: tuple[str, ...]
) -> ThresholdSpec | None:
    abort, delay = False, 0.0
    if isinstance(item, dict):
        r.check_keys(item, path, THRESHOLD_OBJECT_KEYS)
        expression = r.string(item, "threshold", path)
        abort = r.boolean(item, "abort_on_fail", path, False)
        delay = r.duration(item, "delay_abort_eval", path, 0.0)
        if not expression:
            return None
    else:
        expression = item
    try:
        return parse_threshold(
            key, expression, scenarios=scenarios, abort_on_fail=abort, delay_abort_eval_s=delay
        )
    except ThresholdSyntaxError as exc:
        r.problem(path, f"threshold {expression!r}: {exc}", fix=exc.fix)
        return None


__all__ = [
    "ALIASES",
    "METRICS",
    "OPERATORS",
    "TAGS",
    "MetricInfo",
    "ThresholdSyntaxError",
    "format_threshold",
    "parse_key",
    "parse_threshold",
    "read_thresholds",
]
