"""What the engine is handed, as protocols: the scenarios' builder, the metrics' recorder,
the safety monitor, the rate cap and the retry policy. The engine applies them and decides
nothing they decide; each has one implementation in its own package (named below) and a
fake in tests/test_engine.py."""

from __future__ import annotations

from typing import Protocol

from loadgen.transport import RequestSpec


class Built(Protocol):
    """What a scenario builds for one arrival."""

    @property
    def request(self) -> RequestSpec: ...

    @property
    def key(self) -> str | None: ...


class Builder(Protocol):
    """The scenarios (`loadgen.scenarios.ScenarioSet`): request `n` of scenario `scenario`;
    raises `ScenarioExhausted` once its input has nothing left to send."""

    def build(self, scenario: int, n: int) -> Built: ...


class Recorder(Protocol):
    """The hot-path half of `loadgen.metrics.RunMetrics`."""

    def record_planned(self, t_s: float, scenario: int = -1) -> None: ...
    def record_dropped(self, scenario: int, t_s: float) -> None: ...
    def record_started(self, scenario: int, t_s: float) -> None: ...
    def record_response(
        self,
        scenario: int,
        t_s: float,
        latency_us: int,
        service_us: int,
        status: int,
        retry_after_s: float | None,
        attempt: int = 0,
    ) -> None: ...
    def record_error(
        self,
        scenario: int,
        t_s: float,
        latency_us: int,
        service_us: int,
        kind: str,
        attempt: int = 0,
    ) -> None: ...
    def record_lag(self, lag_us: int) -> None: ...


class Safety(Protocol):
    """Watches outcomes; `tripped()` gives a reason once the target is failing."""

    def observe(self, t_s: float, status: int | None, error: bool) -> None: ...
    def tripped(self) -> str | None: ...


class RateCapLike(Protocol):
    """The rate cap (`loadgen.run.ratecap.RateCap`): 0.0 = send now, else seconds to wait."""

    def take(self) -> float: ...


class RetryPolicy(Protocol):
    """Which answers are worth another attempt, how many attempts, and how long between
    them (`loadgen.guard.runtime.RetryBackoff`). The engine only applies it."""

    max_retries: int

    def retryable(self, status: int) -> bool: ...
    def delay(self, attempt: int, retry_after_s: float | None) -> float: ...
