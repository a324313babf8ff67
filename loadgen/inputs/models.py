"""The profile's frozen models: what a profile TOML file says, with defaults filled in.

They import nothing above `errors`, the API table and the key-lines map of `tomlsource`, so
every floor may use them; the strict reader that builds them is `inputs/profile.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from loadgen.apis import Api, Kind
from loadgen.inputs.tomlsource import KeyLines

# Events per request, any API; the builders' serial stride (scenarios/api_format.py) is this.
MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class StageSpec:
    """Ramp linearly from the previous stage's end rate to `target` over `duration_s`."""

    duration_s: float
    target: float


@dataclass(frozen=True, slots=True)
class LoadSpec:
    model: Literal["arrival-rate"]
    start_rate: float
    stages: tuple[StageSpec, ...]
    max_in_flight: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class UsersSpec:
    """The simulated population: `count` distinct ids drawn with Zipf `skew` (0 = uniform)."""

    count: int
    skew: float
    id_prefix: str
    ordered: bool  # never two requests in flight for one distinct_id


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """Stream events from a file (a historical import) instead of generating them."""

    file: str
    format: Literal["ndjson", "csv"]
    on_error: Literal["fail", "skip"]


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    api: Api
    kind: Kind
    weight: float
    batch_size: int  # events per request
    events: tuple[str, ...]
    properties: dict[str, Any]  # values may be templates, expanded per event by scenarios/
    gzip: bool
    historical: bool  # PostHog `historical_migration`; timestamps spread over `history_s`
    history_s: float  # how far back timestamps are spread (0 = now)
    api_version: Literal["v1", "v2"]  # Customer.io Track API version
    replay: ReplaySpec | None


@dataclass(frozen=True, slots=True)
class RetrySpec:
    """Opt-in retries on 429 / 5xx, honouring Retry-After."""

    enabled: bool
    max_retries: int
    max_backoff_s: float


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    """One k6-style threshold expression of the profile, parsed (loadgen/thresholds/)."""

    name: str  # the profile key as written: `http_req_duration{scenario:track}`
    metric: str  # canonical metric after alias resolution: `latency`
    scenario: str | None  # the `scenario` tag; None = all traffic
    expression: str  # as written: `p(95)<250 over 30s`
    aggregation: str  # p(N) | avg | min | max | med | count | rate | ratio
    operator: str  # < <= > >= == !=
    bound: float
    window_s: float | None = None  # `over 30s`: must hold in every full window
    abort_on_fail: bool = False
    delay_abort_eval_s: float = 0.0

    @property
    def percentile(self) -> float | None:
        """N of `p(N)`, else None."""
        if self.aggregation.startswith("p("):
            return float(self.aggregation[2:-1])
        return 50.0 if self.aggregation == "med" else None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    load: LoadSpec
    scenarios: tuple[ScenarioSpec, ...]
    users: UsersSpec
    start: datetime | None
    apps_enabled: bool | None
    thresholds: tuple[ThresholdSpec, ...]
    retries: RetrySpec
    path: Path
    content_hash: str  # canonical: insensitive to comments and formatting
    # `[thresholds_options] fail_on_generator_bottleneck`: a saturated loadgen fails the run
    fail_on_generator_bottleneck: bool = False
    # where each key sits in that file, as the reader found them (to place findings)
    lines: KeyLines | None = field(default=None, compare=False, repr=False)


__all__ = [
    "MAX_BATCH_SIZE",
    "LoadSpec",
    "Profile",
    "ReplaySpec",
    "RetrySpec",
    "ScenarioSpec",
    "StageSpec",
    "ThresholdSpec",
    "UsersSpec",
]
