"""The grammar of `loadgen compare --max-regression`: how much worse NEW may be than BASELINE.

    limit   := metric [ "{scenario:" NAME "}" ] "=" amount
    metric  := [ trend "." ] stat          latency when the trend is left out
             | share | rate
    trend   := latency | http_req_duration | service_time
    stat    := p(N) | avg | med | min | max          0 < N <= 100
    share   := http_429 | errors | failed | http_req_failed | dropped | dropped_iterations
    rate    := achieved_rps | requests | http_reqs   (attempts sent per second)
    amount  := [+] NUMBER ( % | ms | s )   for a trend: relative, or absolute time
             | [+] NUMBER pp               for a share: percentage points of its share
             | [-] NUMBER ( % | /s )       for a rate: how far it may fall

Examples: `p(95)=10%`, `p(99)=+20ms`, `service_time.max{scenario:track}=50%`,
`http_429=+0.5pp`, `achieved_rps=-2%`. Without a tag a limit is on all traffic (as a k6
threshold is). The sign, when written, is the direction of a regression: latency and
shares get worse when they rise, the achieved rate when it falls. The metric names and
k6 aliases are those of the profile's [thresholds].
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from loadgen.errors import UsageError
from loadgen.report.stats import Stat, parse_stat

OPTION = "--max-regression"
TRENDS = {"latency": "latency", "http_req_duration": "latency", "service_time": "service_time"}
SHARES = {
    "http_429": "http_429",
    "errors": "errors",
    "failed": "failed",
    "http_req_failed": "failed",
    "dropped": "dropped",
    "dropped_iterations": "dropped",
}
RATES = {"achieved_rps": "achieved_rps", "requests": "achieved_rps", "http_reqs": "achieved_rps"}
UNITS = {"trend": ("%", "ms", "s"), "share": ("pp",), "rate": ("%", "/s")}
EXAMPLES = {
    "trend": "p(95)=10% or p(99)=+20ms",
    "share": "http_429=+0.5pp",
    "rate": "achieved_rps=-2%",
}
TREND_STATS = "p(N), avg, med, min, max"

_LIMIT = re.compile(r"^\s*(?P<key>[^{}=]+?)\s*(?:\{(?P<tag>[^{}]*)\})?\s*=\s*(?P<amount>\S+)\s*$")
_AMOUNT = re.compile(r"^(?P<sign>[+-])?(?P<number>\d+(?:\.\d+)?)(?P<unit>%|ms|s|pp|/s)$")


@dataclass(frozen=True, slots=True)
class Limit:
    """One parsed limit. `amount` is in `unit` (seconds already turned into ms) and always
    counts towards worse: +10 % latency, +0.5 pp of 429s, 2 % less achieved rate."""

    text: str
    metric: str  # canonical: latency, service_time, http_429, errors, failed, ...
    kind: str  # trend | share | rate
    stat: Stat | None
    scenario: str | None
    amount: float
    unit: str  # % | ms | pp | /s

    @property
    def shown(self) -> str:
        """The limit as the table prints it: `+10%`, `+20ms`, `+0.5pp`, `-2%`."""
        sign = "-" if self.kind == "rate" else "+"
        return f"{sign}{self.amount:g}{self.unit}"


def _fail(text: str, problem: str, fix: str) -> UsageError:
    return UsageError(f"{OPTION} {text!r}: {problem}; {fix}")


def _did_you_mean(word: str, fallback: str) -> str:
    options = [*TRENDS, *SHARES, *RATES, "p(95)", "avg", "med", "min", "max"]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"did you mean {close[0]}?" if close else fallback


def _metric(text: str, key: str) -> tuple[str, str, Stat | None]:
    """(canonical metric, kind, stat) of the part before the tag and `=`."""
    if key in SHARES:
        return SHARES[key], "share", None
    if key in RATES:
        return RATES[key], "rate", None
    # the trend is what comes before the first dot outside p(...): `service_time.p(99.9)`
    trend, dot, stat_text = key.partition(".")
    if not dot or key.startswith("p("):
        trend, dot, stat_text = "", "", key
    if dot and trend not in TRENDS:
        known = ", ".join(TRENDS)
        raise _fail(text, f"unknown trend {trend!r}", _did_you_mean(trend, f"use one of {known}"))
    stat = parse_stat(stat_text)
    if stat is None or stat.kind == "count":
        fallback = f"write a statistic ({TREND_STATS}), a share or a rate, e.g. p(95)=10%"
        raise _fail(text, f"unknown metric {key!r}", _did_you_mean(stat_text, fallback))
    return TRENDS[trend] if dot else "latency", "trend", stat


def _scenario(text: str, tag: str | None) -> str | None:
    if tag is None:
        return None
    name, colon, value = tag.partition(":")
    if name.strip() != "scenario" or not colon or not value.strip():
        raise _fail(text, f"tag {{{tag}}} is not a scenario tag", "write {scenario:NAME}")
    return value.strip()


def _amount(text: str, kind: str, written: str) -> tuple[float, str]:
    match = _AMOUNT.match(written)
    units = UNITS[kind]
    if match is None or match.group("unit") not in units:
        shares_hint = " (a share changes in percentage points)" if kind == "share" else ""
        raise _fail(
            text,
            f"amount {written!r} is not a number with a unit of {' '.join(units)}{shares_hint}",
            f"write e.g. {EXAMPLES[kind]}",
        )
    worse = "-" if kind == "rate" else "+"
    if match.group("sign") not in (None, worse):
        direction = "falls" if kind == "rate" else "rises"
        raise _fail(
            text,
            f"a limit is how much worse NEW may be, and this metric gets worse when it {direction}",
            f"write {worse}{match.group('number')}{match.group('unit')}",
        )
    number, unit = float(match.group("number")), match.group("unit")
    return (number * 1000, "ms") if unit == "s" else (number, unit)


def parse_limit(text: str) -> Limit:
    """One `--max-regression` value; a usage error naming it, with a fix, when it is bad."""
    match = _LIMIT.match(text)
    if match is None:
        raise _fail(
            text, "not METRIC=AMOUNT", "write e.g. p(95)=10%, p(99)=+20ms or http_429=+0.5pp"
        )
    metric, kind, stat = _metric(text, match.group("key"))
    scenario = _scenario(text, match.group("tag"))
    amount, unit = _amount(text, kind, match.group("amount"))
    return Limit(text, metric, kind, stat, scenario, amount, unit)


def parse_limits(texts: Iterable[str]) -> tuple[Limit, ...]:
    """Every limit, or one usage error listing all the bad ones (each with its fix)."""
    limits: list[Limit] = []
    problems: list[str] = []
    for text in texts:
        try:
            limits.append(parse_limit(text))
        except UsageError as exc:
            problems.append(str(exc))
    if problems:
        raise UsageError("\n  ".join(problems))
    return tuple(limits)
