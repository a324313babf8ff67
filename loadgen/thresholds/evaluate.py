"""Threshold outcomes: each expression compared with its observed value, as the artifact's
`thresholds` list records them (docs/results.md), during the run (for `abort_on_fail`), at
its end, and again from a saved artifact by `loadgen check` and `loadgen merge`."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from loadgen.inputs.models import ThresholdSpec
from loadgen.inputs.threshold_syntax import ThresholdSyntaxError, parse_threshold
from loadgen.thresholds import values
from loadgen.thresholds.observations import Observations

Doc = dict[str, Any]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
BOTTLENECK_NAME = "generator"  # the entry `[verdict] fail_on_generator_bottleneck` adds


def holds(spec: ThresholdSpec, value: float | None) -> bool:
    """No data never passes: a latency threshold with no responses says nothing is fine."""
    return value is not None and COMPARE[spec.operator](value, spec.bound)


def observe(spec: ThresholdSpec, obs: Observations) -> tuple[float | None, bool]:
    """(observed value, passed). Over windows: the worst window, and passed only if every
    window passed."""
    if spec.window_s is None:
        value = values.whole_run(spec, obs)
        return value, holds(spec, value)
    found = values.windows(spec, obs)
    if not found:
        return None, False
    failing = [v for v in found if not holds(spec, v)]
    if not failing:
        known = [v for v in found if v is not None]
        return _worst(spec, known), True
    known = [v for v in failing if v is not None]
    return (_worst(spec, known) if known else None), False


def _worst(spec: ThresholdSpec, found: Sequence[float]) -> float:
    """The value nearest to failing: the highest for an upper bound, the lowest for a lower."""
    return max(found) if spec.operator in ("<", "<=", "==", "!=") else min(found)


def outcome(spec: ThresholdSpec, obs: Observations, *, aborted_run: bool = False) -> Doc:
    observed, passed = observe(spec, obs)
    return {
        "name": spec.name,
        "metric": spec.metric,
        "scenario": spec.scenario,
        "expression": spec.expression,
        "aggregation": spec.aggregation,
        "window_s": spec.window_s,
        "observed": None if observed is None else round(observed, 6),
        "passed": passed,
        "abort_on_fail": spec.abort_on_fail,
        "delay_abort_eval_s": spec.delay_abort_eval_s,
        "aborted_run": aborted_run,
    }


def evaluate(
    specs: Sequence[ThresholdSpec],
    doc: Doc,
    *,
    aborted_by: str | None = None,
    fail_on_generator_bottleneck: bool = False,
) -> list[Doc]:
    """The outcomes of `specs` on an artifact, in order; `aborted_by` marks the threshold
    whose failure stopped the run; a bottleneck entry is added when the profile asks."""
    obs = Observations.of_artifact(doc)
    results = [outcome(s, obs, aborted_run=abort_key(s) == aborted_by) for s in specs]
    if fail_on_generator_bottleneck:
        results.append(_bottleneck_entry(doc))
    return results


def _bottleneck_entry(doc: Doc) -> Doc:
    bottleneck = bool(doc["generator"]["bottleneck"])
    return {
        "name": BOTTLENECK_NAME,
        "metric": "generator_bottleneck",
        "scenario": None,
        "expression": "fail_on_generator_bottleneck",
        "aggregation": "flag",
        "window_s": None,
        "observed": 1.0 if bottleneck else 0.0,
        "passed": not bottleneck,
        "abort_on_fail": False,
        "delay_abort_eval_s": 0.0,
        "aborted_run": False,
    }


def failed_abort(specs: Sequence[ThresholdSpec], obs: Observations) -> ThresholdSpec | None:
    """The first `abort_on_fail` threshold failing now, its delay over (data so far)."""
    for spec in specs:
        due = spec.abort_on_fail and obs.duration_s >= spec.delay_abort_eval_s
        if due and not observe(spec, obs)[1]:
            return spec
    return None


def abort_reason(spec: ThresholdSpec, obs: Observations) -> str:
    observed, _ = observe(spec, obs)
    shown = "no data" if observed is None else f"{observed:.6g}"
    return f"threshold {spec.name}: {spec.expression} failed (observed {shown}; abort_on_fail)"


def abort_key(spec: ThresholdSpec) -> str:
    """How the run remembers which threshold stopped it (name and expression)."""
    return _key(spec.name, spec.expression)


def _key(name: str, expression: str) -> str:
    return f"{name} {expression}"


def aborted_by_of(entries: Sequence[Doc]) -> str | None:
    """Which threshold stopped the run, from an artifact's entries (kept on re-evaluation)."""
    for entry in entries:
        if entry.get("aborted_run"):
            return _key(entry["name"], entry["expression"])
    return None


def evaluate_recorded(
    recorded: Sequence[Doc], doc: Doc, *, stopped: Sequence[Doc] = ()
) -> list[Doc]:
    """The thresholds `recorded` (an artifact's entries) evaluated again on `doc`: the one
    that stopped the run (found in `recorded` or `stopped`, e.g. other parts' entries)
    stays marked, and the bottleneck entry stays asked for. ValueError when an entry cannot
    be read back."""
    return evaluate(
        specs_of({"thresholds": list(recorded)}),
        doc,
        aborted_by=aborted_by_of([*recorded, *stopped]),
        fail_on_generator_bottleneck=bottleneck_checked({"thresholds": list(recorded)}),
    )


def specs_of(doc: Doc) -> tuple[ThresholdSpec, ...]:
    """The thresholds an artifact was evaluated on, read back from its entries (so `check`
    works with the artifact alone); a bottleneck entry is not a threshold."""
    specs = []
    for entry in doc.get("thresholds", []):
        if entry.get("name") == BOTTLENECK_NAME and "metric" in entry:
            continue
        try:
            specs.append(
                parse_threshold(
                    entry["name"],
                    entry["expression"],
                    abort_on_fail=bool(entry.get("abort_on_fail", False)),
                    delay_abort_eval_s=float(entry.get("delay_abort_eval_s", 0.0)),
                )
            )
        except (KeyError, ThresholdSyntaxError) as exc:
            raise ValueError(f"threshold entry {entry!r} cannot be read back: {exc}") from exc
    return tuple(specs)


def bottleneck_checked(doc: Doc) -> bool:
    return any(e.get("metric") == "generator_bottleneck" for e in doc.get("thresholds", []))
