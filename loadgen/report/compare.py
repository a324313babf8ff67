"""`loadgen compare`: two runs of one profile, metric by metric, against regression limits.

Latency figures come from the artifacts' HDR histograms (the responses only: transport
errors fail fast and would look like fast answers), so any percentile compares exactly.
Shares (429s, transport errors, failed, dropped) are percentages of the finished attempts
(dropped: of the arrivals) and change in percentage points; the achieved rate in req/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadgen.errors import LoadgenError, UsageError
from loadgen.report.limits import Limit
from loadgen.report.stats import Stat, histogram, parse_stat, response_histogram

if TYPE_CHECKING:
    from rich.table import Table

ALL = "all"  # the scope of a limit without a scenario tag: all traffic
DEFAULT_TRENDS = ("p(50)", "p(95)", "p(99)", "max")
DEFAULT_SHARES = ("http_429", "errors", "failed", "dropped")


class ProfilesDiffer(LoadgenError):
    """The two artifacts are runs of different profiles: comparing them says nothing."""


@dataclass(frozen=True, slots=True)
class Row:
    """One metric of one scope (`all` or a scenario) in both runs."""

    scope: str
    metric: str  # latency, service_time, http_429, ..., achieved_rps
    kind: str  # trend | share | rate
    stat: Stat | None
    baseline: float | None
    new: float | None
    limit: Limit | None = None

    @property
    def label(self) -> str:
        return f"{self.metric} {self.stat.label}" if self.stat else self.metric

    @property
    def unit(self) -> str:
        return {"trend": "ms", "share": "%", "rate": "req/s"}[self.kind]

    @property
    def change(self) -> float | None:
        """new - baseline in the row's unit (pp for shares); None without both."""
        if self.baseline is None or self.new is None:
            return None
        return self.new - self.baseline

    @property
    def relative(self) -> float | None:
        """The change in % of the baseline (None without both, or from a zero baseline)."""
        change = self.change
        if change is None or self.baseline is None:
            return None
        if self.baseline == 0:
            return 0.0 if change == 0 else None
        return 100 * change / self.baseline

    @property
    def passed(self) -> bool | None:
        """None without a limit; else whether NEW stays within it."""
        if self.limit is None:
            return None
        return within(self.limit, self.baseline, self.new)


def within(limit: Limit, baseline: float | None, new: float | None) -> bool:
    """Is `new` no worse than `baseline` by more than `limit`? No data on one side fails
    (a run that measured nothing cannot be trusted); no data on both passes."""
    if baseline is None or new is None:
        return baseline is None and new is None
    worse = baseline - new if limit.kind == "rate" else new - baseline
    if limit.unit == "%":
        if baseline == 0:
            return worse <= 0
        return 100 * worse / baseline <= limit.amount
    return worse <= limit.amount


def check_same_profile(baseline: dict[str, Any], new: dict[str, Any], allow: bool) -> str | None:
    """Refuse runs of different profiles (name or content hash), unless `allow`; then the
    warning to print (None when they are the same)."""
    differences = [
        f"profile {key} {baseline['profile'][key]!r} vs {new['profile'][key]!r}"
        for key in ("name", "hash")
        if baseline["profile"][key] != new["profile"][key]
    ]
    if not differences:
        return None
    text = "; ".join(differences)
    if not allow:
        raise ProfilesDiffer(
            f"the two artifacts are runs of different profiles ({text}): their figures do not "
            "measure the same load; compare runs of one profile, or pass "
            "--allow-different-profile if the change of profile is what you measure"
        )
    return f"WARNING: comparing runs of different profiles ({text})"


def _share(kind: str, block: dict[str, Any]) -> float | None:
    """The metric's share in % of its whole (finished attempts; arrivals for dropped)."""
    status, errors = block["status"], block["errors"]
    finished = block["completed"] + errors
    parts = {"http_429": status["429"], "errors": errors, "failed": finished - status["2xx"]}
    if kind == "dropped":
        sent = block["sent"] if "sent" in block else block["count"]
        arrivals = block["dropped"] + sent - block["retries"]
        return 100 * block["dropped"] / arrivals if arrivals else None
    return 100 * parts[kind] / finished if finished else None


def measure(doc: dict[str, Any], metric: str, stat: Stat | None, scope: str) -> float | None:
    """The value of one metric in one scope of an artifact (None: nothing measured)."""
    scenario = None if scope == ALL else scope
    block = doc["totals"] if scenario is None else doc["scenarios"][scenario]
    if metric == "achieved_rps":
        rate: float = block["achieved_rps"] if scenario is None else block["rate"]
        return rate
    if stat is None:
        return _share(metric, block)
    if metric == "latency":
        h = response_histogram(doc, scenario)
    else:
        h = histogram(doc, f"service:{scenario}" if scenario else "service")
    return None if h is None else stat.of(h)


def scopes(baseline: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`all` and the scenarios both runs have."""
    return [ALL, *sorted(baseline["scenarios"].keys() & new["scenarios"].keys())]


def unmatched_scenarios(baseline: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """A warning per scenario only one run has (runs of different profiles): not compared."""
    warnings = []
    for label, doc, other in (("BASELINE", baseline, new), ("NEW", new, baseline)):
        for name in sorted(doc["scenarios"].keys() - other["scenarios"].keys()):
            warnings.append(f"WARNING: scenario {name!r} is only in the {label} run: not compared")
    return warnings


def check_scenarios(limits: Sequence[Limit], known: Sequence[str]) -> None:
    unknown = [lim.text for lim in limits if lim.scenario is not None and lim.scenario not in known]
    if unknown:
        names = ", ".join(s for s in known if s != ALL) or "none"
        raise UsageError(
            f"--max-regression {', '.join(unknown)}: no such scenario in both runs; "
            f"the scenarios are {names}"
        )


def _wanted(limits: Sequence[Limit], scope: str) -> list[tuple[str, str, Stat | None]]:
    """The rows of a scope: the default ones, then those only a limit asks for."""
    rows: list[tuple[str, str, Stat | None]] = [
        ("latency", "trend", parse_stat(text)) for text in DEFAULT_TRENDS
    ]
    rows += [(name, "share", None) for name in DEFAULT_SHARES]
    rows.append(("achieved_rps", "rate", None))
    for lim in limits:
        key = (lim.metric, lim.kind, lim.stat)
        if (lim.scenario or ALL) == scope and key not in rows:
            rows.append(key)
    return rows


def compare_rows(
    baseline: dict[str, Any], new: dict[str, Any], limits: Sequence[Limit]
) -> list[Row]:
    """Every row of every scope, each with the limit on it (the last given wins)."""
    known = scopes(baseline, new)
    check_scenarios(limits, known)
    rows = []
    for scope in known:
        for metric, kind, stat in _wanted(limits, scope):
            on_it = [
                lim
                for lim in limits
                if (lim.scenario or ALL) == scope and (lim.metric, lim.stat) == (metric, stat)
            ]
            rows.append(
                Row(
                    scope,
                    metric,
                    kind,
                    stat,
                    measure(baseline, metric, stat, scope),
                    measure(new, metric, stat, scope),
                    on_it[-1] if on_it else None,
                )
            )
    return rows


def regressed(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.passed is False]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def to_json(rows: Sequence[Row], baseline: str, new: str) -> dict[str, Any]:
    """The comparison for CI tools: `passed` and one entry per row."""
    return {
        "baseline": baseline,
        "new": new,
        "passed": not regressed(rows),
        "rows": [
            {
                "scope": row.scope,
                "metric": row.label,
                "unit": row.unit,
                "baseline": _rounded(row.baseline),
                "new": _rounded(row.new),
                "change": _rounded(row.change),
                "change_percent": _rounded(row.relative),
                "limit": row.limit.text if row.limit else None,
                "passed": row.passed,
            }
            for row in rows
        ],
    }


def _value(row: Row, value: float | None) -> str:
    if value is None:
        return "-"
    if row.kind == "rate":
        return f"{value:,.1f}/s"
    return f"{value:,.2f} {'ms' if row.kind == 'trend' else '%'}"


def _change(row: Row) -> str:
    change, relative = row.change, row.relative
    if change is None:
        return "no data"
    if row.kind == "share":
        return f"{change:+,.2f} pp"
    shown = f"{change:+,.2f} {'ms' if row.kind == 'trend' else '/s'}"
    return shown if relative is None else f"{shown} ({relative:+.1f}%)"


def compare_table(rows: Sequence[Row]) -> Table:
    """metric, baseline, new, change, limit and ✓/✗ (blank without a limit), per scope."""
    from rich.table import Table

    table = Table(title="NEW against BASELINE", title_justify="left")
    for column in ("scope", "metric", "baseline", "new", "change", "limit", ""):
        table.add_column(column, justify="left" if column in ("scope", "metric") else "right")
    for row in rows:
        mark = {None: "", True: "✓", False: "✗"}[row.passed]
        table.add_row(
            row.scope,
            row.label,
            _value(row, row.baseline),
            _value(row, row.new),
            _change(row),
            row.limit.shown if row.limit else "-",
            mark,
        )
    return table
