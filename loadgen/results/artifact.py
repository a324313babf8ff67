"""The results artifact: build it from a run, validate it against the shipped JSON Schema,
write it atomically and read it back (several merge into one in loadgen/results/merge.py).

The artifact is a public interface for dashboards; every field is documented in
docs/results.md and described in loadgen/results/schema/results-v1.schema.json. Counts are
additive and histograms are stored in the standard HdrHistogram base64 encoding, so a
merge recomputes every percentile exactly.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

import loadgen
from loadgen.errors import LoadgenError
from loadgen.metrics import RunMetrics
from loadgen.metrics.blocks import (
    count_blocks,
    encode_all,
    finish_blocks,
    histogram_block,
    lag_block,
)
from loadgen.results.status import RunStatus

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_VERSION = "1.0"
SCHEMA_RESOURCE = "results-v1.schema.json"
LAG_LIMIT_MS = 10.0  # scheduler lag p99 above this: starts were late enough to skew results
CPU_LIMIT_PERCENT = 90.0  # the generator's own CPU above this: it was saturated
DROP_LIMIT = 0.001  # more than 0.1 % of arrivals dropped ...
DROP_CPU_PERCENT = 80.0  # ... while the CPU was this busy: loadgen, not the target, fell behind
_SECRET_QUERY_KEY = re.compile(r"key|token|secret|pass|auth|sig|credential", re.IGNORECASE)

Doc = dict[str, Any]


class ResultsError(LoadgenError):
    """An artifact that cannot be written, read, validated or merged."""


class ArtifactWriteError(ResultsError):
    """The filesystem refused the artifact (full, read-only, gone): a valid one elsewhere
    would do (`loadgen.results.output.write_or_fallback`)."""


def generator_verdict(
    cpu_percent: float,
    lag_p99_ms: float,
    *,
    cpu_peak_percent: float | None = None,
    dropped_share: float = 0.0,
) -> tuple[bool, str | None]:
    """Was the generator, not the target, the bottleneck? Returns (verdict, plain reason).

    `cpu_percent` is the run's average; `cpu_peak_percent` the busiest few seconds (a run
    can average 57 % and still saturate for the seconds that matter); `dropped_share` the
    share of arrivals dropped, which counts against loadgen only while it was busy.
    """
    peak = max(cpu_percent, cpu_peak_percent or 0.0)
    reasons = []
    if lag_p99_ms > LAG_LIMIT_MS:
        reasons.append(
            f"scheduler lag p99 was {lag_p99_ms:.1f} ms (limit {LAG_LIMIT_MS:.0f} ms): "
            "requests started late, so the achieved rate and latencies describe loadgen, "
            "not the target"
        )
    if peak > CPU_LIMIT_PERCENT:
        reasons.append(
            f"loadgen used {peak:.0f} % CPU at its busiest (limit {CPU_LIMIT_PERCENT:.0f} %): "
            "it could not keep up; lower the rate or split the run across workers"
        )
    elif dropped_share > DROP_LIMIT and (peak > DROP_CPU_PERCENT or lag_p99_ms > LAG_LIMIT_MS / 2):
        reasons.append(
            f"{dropped_share:.1%} of arrivals were dropped while loadgen's CPU peaked at "
            f"{peak:.0f} %: raise max_in_flight only if the CPU has room, else split the run"
        )
    return (True, "; ".join(reasons)) if reasons else (False, None)


def _utc(moment: datetime) -> str:
    """UTC ISO 8601 with a Z (a naive datetime is taken as local time, as Python does)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_url(url: str) -> str:
    """The URL without credentials: no user:password@, secret-looking query values redacted."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = parts.query
    if any(_SECRET_QUERY_KEY.search(k) for k, _ in pairs):
        query = urlencode([(k, "redacted" if _SECRET_QUERY_KEY.search(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ResultsError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def build_artifact(
    *,
    metrics: RunMetrics,
    status: RunStatus,
    status_reason: str | None,
    profile: dict[str, Any],
    target: dict[str, Any],
    started_at: datetime,
    ended_at: datetime,
    duration_s: float,
    generator: dict[str, Any],
    thresholds: Sequence[dict[str, Any]] = (),
    run: dict[str, Any] | None = None,
) -> Doc:
    """The artifact of one run (flushes `metrics`). `generator` gives `cpu_percent` and
    optionally `bottleneck`/`reason`; scheduler lag comes from `metrics`, and the verdict is
    computed from both when not given."""
    m = metrics.measurements()
    duration = _finite("duration_s", duration_s)
    totals, scenarios = count_blocks(m)
    histograms = histogram_block(m)
    totals, scenarios = finish_blocks(totals, scenarios, histograms, duration)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": loadgen.__version__,
        "status": status,
        "status_reason": status_reason,
        "profile": {k: profile[k] for k in ("name", "path", "hash")},
        "target": _target_block(target),
        "run": dict(run or {}),
        "started_at": _utc(started_at),
        "ended_at": _utc(ended_at),
        "duration_s": round(duration, 6),
        "totals": totals,
        "scenarios": scenarios,
        "series": m.series,
        "scenario_series": m.scenario_series,
        "generator": _generator_block(generator, lag_block(m.lag)),
        "histograms": encode_all(histograms),
        "series_histograms": m.series_histograms,
        "series_service_histograms": m.series_service_histograms,
        "scenario_series_histograms": m.scenario_series_histograms,
        "thresholds": [dict(t) for t in thresholds],
    }


def _target_block(target: dict[str, Any]) -> Doc:
    doc = {"name": target["name"], "url": public_url(target["url"])}
    if target.get("observed") is not None:
        doc["observed"] = target["observed"]
    return doc


def _generator_block(generator: dict[str, Any], lag: Doc) -> Doc:
    cpu = round(_finite("generator.cpu_percent", generator["cpu_percent"]), 1)
    if "bottleneck" in generator:  # the caller's own verdict (the runner's, from the CPU peak)
        bottleneck, reason = bool(generator["bottleneck"]), generator.get("reason")
    else:
        bottleneck, reason = generator_verdict(cpu, lag["p99"] or 0.0)
    return {"cpu_percent": cpu, "lag_ms": lag, "bottleneck": bottleneck, "reason": reason}


def schema() -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) of the artifact, freshly parsed."""
    text = resources.files("loadgen.results.schema").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _validator() -> Draft202012Validator:
    # jsonschema (~25-45 ms to import) when an artifact is first validated: after a run's
    # last request, never before its first. The schema itself is checked against the
    # 2020-12 metaschema by the tests (tests/test_startup_imports.py), not on every run
    # (another ~25 ms): it is a file shipped with loadgen, not something a user hands in.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def validate_artifact(doc: Doc) -> None:
    """Raise ResultsError listing every schema violation with its JSON path."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.path)))
    if not errors:
        return
    shown = [f"  - {e.json_path}: {e.message[:300]}" for e in errors[:20]]
    more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
    plural = "s" if len(errors) != 1 else ""
    raise ResultsError(
        f"results artifact does not match schema {SCHEMA_VERSION}: "
        f"{len(errors)} problem{plural}:\n" + "\n".join(shown) + more
    )


def dumps(doc: Doc) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_artifact(path: Path, doc: Doc) -> Path:
    """Validate, then write atomically: a temp file in the same directory, fsync, rename.
    A reader never sees a partial file; on failure the previous file is left untouched."""
    validate_artifact(doc)
    data = dumps(doc)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ArtifactWriteError(f"cannot write results to {path}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ArtifactWriteError(f"cannot write results to {path}: {exc}") from exc
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every OS lets you open a dir)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_artifact(path: Path) -> Doc:
    """Parse and validate an artifact; errors name the file."""
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read results: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not a results artifact (invalid JSON: {exc})") from exc
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: not a results artifact (top level is not an object)")
    version = str(doc.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ResultsError(
            f"{path}: results schema version {version or '(missing)'} is not supported "
            f"by loadgen {loadgen.__version__} (reads {SCHEMA_VERSION.split('.')[0]}.x)"
        )
    try:
        validate_artifact(doc)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from None
    return doc


def default_artifact_path(profile_name: str, now: datetime) -> Path:
    """results/<profile>-<UTC YYYYmmddTHHMMSSZ>.json (relative to the working directory)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", profile_name).strip(".-") or "run"
    return Path("results") / f"{safe}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.json"
