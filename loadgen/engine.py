"""The run loop: start each planned request on time, within `max_in_flight`, and record it.

Open model: arrivals come from the schedule whatever the server does. An arrival that
finds `max_in_flight` requests outstanding is dropped and counted, never delayed.

Timing: event-loop timers resolve to ~1 ms (uvloop turns sleeps under ~0.5 ms into a
busy spin). So the dispatcher sleeps at least `min_sleep_s` (1 ms) and, on each wake-up,
starts every arrival due within `early_s` (0.5 ms) from now. A start is therefore at
most ~0.5 ms early or ~0.5 ms + loop jitter late, without spinning a core while waiting.
Lateness is recorded per start (the scheduler-lag histogram); latency is measured from
the planned start (or the send, if that was early), so a stalled server or a slow
generator cannot hide behind a generator that waited.

No policy and no formatting here: the guard, the artifact and the display live elsewhere.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from loadgen.clock import Clock
from loadgen.errors import ScenarioExhausted
from loadgen.mix import ScenarioMix
from loadgen.schedule import FULL, Schedule, Segment
from loadgen.transport.base import RequestSpec, Response, Transport, TransportError

RunStatus = Literal["completed", "interrupted", "aborted"]


class Built(Protocol):
    """What a scenario builds for one arrival."""

    @property
    def request(self) -> RequestSpec: ...

    @property
    def key(self) -> str | None: ...


class Builder(Protocol):
    def build(self, scenario: int, n: int) -> Built: ...


class Recorder(Protocol):
    """The hot-path half of `loadgen.metrics.RunMetrics`."""

    def record_planned(self, t_s: float) -> None: ...
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


class RetryPolicy(Protocol):
    max_retries: int

    def delay(self, attempt: int, retry_after_s: float | None) -> float: ...


@dataclass(frozen=True, slots=True)
class EngineConfig:
    max_in_flight: int
    grace_s: float = 5.0
    ordered: bool = False  # never two requests in flight for one key (distinct_id)
    early_s: float = 0.0005
    min_sleep_s: float = 0.001
    max_sleep_s: float = 0.05  # wake at least this often to notice a stop


@dataclass(slots=True)
class EngineOutcome:
    status: RunStatus = "completed"
    reason: str | None = None
    started_at: float = 0.0  # clock time of offset 0
    ended_at: float = 0.0
    unfinished: int = 0  # requests cancelled after the grace period
    exhausted: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Arrival:
    scenario: int
    n: int
    planned: float  # clock time
    request: RequestSpec
    key: str | None


class Engine:
    def __init__(
        self,
        *,
        schedule: Schedule,
        mix: ScenarioMix,
        builder: Builder,
        transport: Transport,
        recorder: Recorder,
        clock: Clock,
        config: EngineConfig,
        segment: Segment = FULL,
        safety: Safety | None = None,
        retry: RetryPolicy | None = None,
        limiter: AbstractAsyncContextManager[object] | None = None,
        scenario_names: list[str] | None = None,
    ) -> None:
        self._schedule, self._mix, self._builder = schedule, mix, builder
        self._transport, self._rec, self._clock = transport, recorder, clock
        self._cfg, self._segment = config, segment
        self._safety, self._retry, self._limiter = safety, retry, limiter
        self._names = scenario_names or []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, deque[_Arrival]] = {}
        self._exhausted: set[int] = set()
        self._stop: asyncio.Event | None = None
        self.outcome = EngineOutcome()
        self._t0 = 0.0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def request_stop(self, status: RunStatus, reason: str) -> None:
        """Stop starting new requests; the first reason given is the one reported."""
        if self.outcome.status == "completed" and (
            status != "completed" or not self.outcome.reason
        ):
            self.outcome.status, self.outcome.reason = status, reason
        if self._stop is not None:
            self._stop.set()

    def cancel_now(self) -> None:
        """A second interrupt: give up on requests in flight at once."""
        self.outcome.unfinished = max(self.outcome.unfinished, self._in_flight)
        for task in list(self._tasks):
            task.cancel()

    async def run(self) -> EngineOutcome:
        self._stop = asyncio.Event()
        self._t0 = self._clock.now()
        self.outcome.started_at = self._t0
        await self._dispatch()
        await self._drain()
        self.outcome.ended_at = self._clock.now()
        self.outcome.exhausted = [self._name(i) for i in sorted(self._exhausted)]
        return self.outcome

    def _name(self, scenario: int) -> str:
        return self._names[scenario] if scenario < len(self._names) else str(scenario)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _dispatch(self) -> None:
        clock, cfg, t0 = self._clock, self._cfg, self._t0
        window = cfg.early_s + 1e-7  # 0.1 µs of slack absorbs float noise in `due - now`
        for n, offset in self._schedule.offsets(self._segment):
            due = t0 + offset
            now = clock.now()
            while due - now > window:
                if self._stopping():
                    return
                wait = due - now - cfg.early_s
                await clock.sleep(min(max(wait, cfg.min_sleep_s), cfg.max_sleep_s))
                now = clock.now()
            if self._stopping():
                return
            self._arrive(n, offset, due, now)

    def _arrive(self, n: int, offset: float, due: float, now: float) -> None:
        scenario = self._mix.pick(n)
        if scenario in self._exhausted:
            return
        if self._in_flight >= self._cfg.max_in_flight:
            self._rec.record_planned(offset)
            self._rec.record_dropped(scenario, offset)
            return
        try:
            built = self._builder.build(scenario, n)
        except ScenarioExhausted:  # not planned: the input has nothing left to send
            self._exhausted.add(scenario)
            if len(self._exhausted) == len(self._mix.shares):
                self.request_stop("completed", "every scenario reached the end of its input")
            return
        self._rec.record_planned(offset)
        self._rec.record_lag(_us(now - due))  # an early start (within early_s) is 0 lag
        self._in_flight += 1
        arrival = _Arrival(scenario, n, due, built.request, built.key)
        key = built.key if self._cfg.ordered else None
        if key is not None:
            queue = self._waiting.get(key)
            if queue is not None:  # this user has a request in flight: wait behind it
                queue.append(arrival)
                return
            self._waiting[key] = deque()
        task = asyncio.get_running_loop().create_task(self._serve(arrival))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, arrival: _Arrival) -> None:
        """Run one arrival, then (in ordered mode) the ones queued behind its key."""
        current: _Arrival | None = arrival
        while current is not None:
            try:
                await self._attempts(current)
            finally:
                self._in_flight -= 1
            current = self._next_for(current.key)

    def _next_for(self, key: str | None) -> _Arrival | None:
        if key is None or not self._cfg.ordered:
            return None
        queue = self._waiting.get(key)
        if not queue:
            self._waiting.pop(key, None)
            return None
        return queue.popleft()

    async def _attempts(self, a: _Arrival) -> None:
        attempt = 0
        while True:
            status, retry_after = await self._send_once(a, attempt)
            retryable = status is not None and (status == 429 or status >= 500)
            if not retryable or self._retry is None or attempt >= self._retry.max_retries:
                return
            if self._stopping():
                return
            await self._clock.sleep(self._retry.delay(attempt, retry_after))
            attempt += 1

    async def _send_once(self, a: _Arrival, attempt: int) -> tuple[int | None, float | None]:
        clock, rec = self._clock, self._rec
        if self._limiter is not None:
            async with self._limiter:
                pass
        sent = clock.now()
        rec.record_started(a.scenario, sent - self._t0)
        try:
            response: Response = await self._transport.send(a.request)
        except TransportError as exc:
            done = clock.now()
            rec.record_error(
                a.scenario,
                done - self._t0,
                _us(done - min(a.planned, sent)),
                _us(done - sent),
                exc.kind,
                attempt,
            )
            self._observe(done, None, error=True)
            return None, None
        done = clock.now()
        rec.record_response(
            a.scenario,
            done - self._t0,
            _us(done - min(a.planned, sent)),
            _us(done - sent - response.queued_s),
            response.status,
            response.retry_after_s,
            attempt,
        )
        self._observe(done, response.status, error=False)
        return response.status, response.retry_after_s

    def _observe(self, done: float, status: int | None, *, error: bool) -> None:
        if self._safety is None:
            return
        self._safety.observe(done - self._t0, status, error)
        reason = self._safety.tripped()
        if reason is not None:
            self.request_stop("aborted", reason)

    async def _drain(self) -> None:
        """Wait for requests in flight: all of them normally, `grace_s` after a stop."""
        if not self._tasks:
            return
        if self._stopping():
            _, pending = await asyncio.wait(set(self._tasks), timeout=self._cfg.grace_s)
        else:
            await asyncio.wait(set(self._tasks))
            pending = set()
        self.outcome.unfinished = max(self.outcome.unfinished, self._in_flight)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        self._in_flight = 0


def _us(seconds: float) -> int:
    return max(0, int(seconds * 1_000_000))
