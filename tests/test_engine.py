"""Engine logic on a fake clock: on-time starts, drops, latency from the planned start,
ordering per key, retries, safety stops, interrupts, exhausted scenarios and agreed starts.
No real sleeping and no sockets here; the real-socket runs are in test_run_*.py."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from loadgen.arrivals.mix import ScenarioMix
from loadgen.arrivals.schedule import Schedule
from loadgen.errors import ScenarioExhausted
from loadgen.run.clock import FakeClock
from loadgen.run.engine import Engine, EngineConfig, EngineOutcome
from loadgen.transport import OnDone, RequestSpec, Response, TaskSubmitter, TransportError


@dataclass
class Built:
    request: RequestSpec
    key: str | None = None


@dataclass
class Builder:
    keys: Callable[[int], str | None] = lambda n: None
    limit: int | None = None  # raise ScenarioExhausted after this many builds

    built: int = 0

    def build(self, scenario: int, n: int) -> Built:
        if self.limit is not None and self.built >= self.limit:
            raise ScenarioExhausted("done")
        self.built += 1
        return Built(RequestSpec("POST", f"/r/{n}", ()), self.keys(n))


@dataclass
class Recorder:
    planned: int = 0
    dropped: int = 0
    started: list[float] = field(default_factory=list)
    responses: list[tuple[float, int, int, int, int]] = field(default_factory=list)
    errors: list[tuple[str, int]] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)

    def record_planned(self, t_s: float, scenario: int = -1) -> None:
        self.planned += 1

    def record_dropped(self, scenario: int, t_s: float) -> None:
        self.dropped += 1

    def record_started(self, scenario: int, t_s: float) -> None:
        self.started.append(t_s)

    def record_response(
        self,
        scenario: int,
        t_s: float,
        latency_us: int,
        service_us: int,
        status: int,
        retry_after_s: float | None,
        attempt: int = 0,
    ) -> None:
        self.responses.append((t_s, latency_us, service_us, status, attempt))

    def record_error(
        self,
        scenario: int,
        t_s: float,
        latency_us: int,
        service_us: int,
        kind: str,
        attempt: int = 0,
    ) -> None:
        self.errors.append((kind, latency_us))

    def record_lag(self, lag_us: int) -> None:
        self.lags.append(lag_us)


class FakeServer:
    """Answers after `service(path, now)` seconds of fake time with `status(path, now)`."""

    def __init__(
        self,
        clock: FakeClock,
        service: Callable[[float], float] = lambda t: 0.01,
        status: Callable[[float], int] = lambda t: 200,
        fail: Callable[[float], bool] = lambda t: False,
    ) -> None:
        self.clock, self.service, self.status, self.fail = clock, service, status, fail
        self.in_flight: Counter[str] = Counter()
        self.max_per_key = 0
        self.paths: list[str] = []
        self._tasks = TaskSubmitter(self.send)

    async def send(self, request: RequestSpec) -> Response:
        now = self.clock.now()
        self.paths.append(request.path)
        if self.fail(now):
            raise TransportError("refused", "connection refused")
        await self.clock.sleep(self.service(now))
        return Response(self.status(now), retry_after_s=None)

    def submit(self, request: RequestSpec, on_done: OnDone) -> None:
        self._tasks.submit(request, on_done)

    async def aclose(self) -> None:
        return None


def run(
    engine: Engine, clock: FakeClock, during: Callable[[Engine], None] | None = None
) -> EngineOutcome:
    async def main() -> EngineOutcome:
        task = asyncio.ensure_future(engine.run())
        if during is not None:
            during(engine)
        await clock.drive(task)
        return task.result()

    return asyncio.run(main())


def make(
    schedule: Schedule, server: FakeServer | None = None, *, clock: FakeClock, **kw: Any
) -> tuple[Engine, Recorder, FakeServer]:
    rec = kw.pop("recorder", None) or Recorder()
    server = server or FakeServer(clock)
    kw.setdefault("builder", Builder())
    kw.setdefault("config", EngineConfig(max_in_flight=100))
    engine = Engine(
        schedule=schedule, mix=ScenarioMix([1.0]), transport=server, recorder=rec, clock=clock, **kw
    )
    return engine, rec, server


def test_every_planned_request_starts_on_time() -> None:
    clock = FakeClock()
    schedule = Schedule(10, [(3, 10)])
    engine, rec, _ = make(schedule, clock=clock)
    outcome = run(engine, clock)
    assert outcome.status == "completed"
    assert rec.planned == len(rec.started) == 30
    planned = [t for _, t in schedule.offsets()]
    # started within the early window (0.5 ms) of the plan, never late on a fake clock
    assert all(abs(s - p) <= 0.0005 + 1e-9 for s, p in zip(rec.started, planned, strict=True))
    assert max(rec.lags) == 0


def test_full_in_flight_drops_and_counts_never_delays() -> None:
    clock = FakeClock()
    server = FakeServer(clock, service=lambda t: 1.0)  # each request takes a second
    config = EngineConfig(max_in_flight=5)
    engine, rec, _ = make(Schedule(10, [(2, 10)]), server, clock=clock, config=config)
    run(engine, clock)
    assert rec.planned == 20
    assert len(rec.started) + rec.dropped == 20
    assert rec.dropped > 0
    assert max(t for t in rec.started) < 2.0  # nothing was pushed past the schedule


def test_latency_counts_from_the_planned_start_through_a_stall() -> None:
    clock = FakeClock()
    start = clock.now()

    def service(now: float) -> float:  # the server stalls from t=1 s until t=3 s
        t = now - start
        return (3.0 - t) if 1.0 <= t < 3.0 else 0.005

    engine, rec, _ = make(Schedule(10, [(4, 10)]), FakeServer(clock, service=service), clock=clock)
    run(engine, clock)
    latencies = sorted(lat for _, lat, _, _, _ in rec.responses)
    # a request planned at 1.1 s waits until 3 s: ~1.9 s, not the 5 ms a closed loop would see
    assert latencies[-1] >= 1_900_000
    stalled = [lat for _, lat, _, _, _ in rec.responses if lat > 100_000]
    assert len(stalled) == 19  # every arrival planned at 1.1 .. 2.9 s, none hidden


def test_ordered_mode_never_has_two_in_flight_for_one_key() -> None:
    clock = FakeClock()
    in_flight: Counter[str] = Counter()
    worst = [0]

    class KeyServer(FakeServer):
        async def send(self, request: RequestSpec) -> Response:
            key = str(int(request.path.rsplit("/", 1)[1]) % 3)
            in_flight[key] += 1
            worst[0] = max(worst[0], in_flight[key])
            await self.clock.sleep(0.5)  # slower than the 0.1 s between a key's arrivals
            in_flight[key] -= 1
            return Response(200)

    builder = Builder(keys=lambda n: str(n % 3))
    engine, rec, _ = make(
        Schedule(20, [(2, 20)]),
        KeyServer(clock),
        clock=clock,
        builder=builder,
        config=EngineConfig(max_in_flight=1000, ordered=True),
    )
    run(engine, clock)
    assert worst[0] == 1
    assert len(rec.responses) == 40
    assert max(lat for _, lat, _, _, _ in rec.responses) > 1_000_000  # waiting shows as latency


@dataclass
class Retry:
    max_retries: int = 2
    delays: list[tuple[int, float | None]] = field(default_factory=list)

    def retryable(self, status: int) -> bool:
        return status == 429 or status >= 500

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        self.delays.append((attempt, retry_after_s))
        return 0.25


def test_retries_are_opt_in_and_counted_per_attempt() -> None:
    clock = FakeClock()
    server = FakeServer(clock, status=lambda t: 429)
    retry = Retry()
    engine, rec, _ = make(Schedule(5, [(1, 5)]), server, clock=clock, retry=retry)
    run(engine, clock)
    attempts = Counter(a for *_, a in rec.responses)
    assert attempts == {0: 5, 1: 5, 2: 5}
    assert len(rec.started) == 15

    clock = FakeClock()
    engine, rec, _ = make(
        Schedule(5, [(1, 5)]), FakeServer(clock, status=lambda t: 429), clock=clock
    )
    run(engine, clock)
    assert len(rec.responses) == 5  # no retry policy: one attempt each


@dataclass
class Trip:
    after: int
    seen: int = 0

    def observe(self, t_s: float, status: int | None, error: bool) -> None:
        self.seen += 1

    def tripped(self) -> str | None:
        return "5xx above 5 % over 10 s" if self.seen >= self.after else None


def test_safety_trip_aborts_the_run_with_its_reason() -> None:
    clock = FakeClock()
    engine, rec, _ = make(Schedule(10, [(10, 10)]), clock=clock, safety=Trip(after=7))
    outcome = run(engine, clock)
    assert outcome.status == "aborted"
    assert outcome.reason == "5xx above 5 % over 10 s"
    assert rec.planned < 100


def test_stop_request_interrupts_and_waits_for_in_flight_within_grace() -> None:
    clock = FakeClock()
    server = FakeServer(clock, service=lambda t: 0.2)
    engine, rec, _ = make(Schedule(10, [(10, 10)]), server, clock=clock)

    pending: list[asyncio.Future[None]] = []

    def stop_later(e: Engine) -> None:
        async def later() -> None:
            await clock.sleep(2.05)
            e.request_stop("interrupted", "interrupted by the user")

        pending.append(asyncio.ensure_future(later()))

    outcome = run(engine, clock, during=stop_later)
    assert outcome.status == "interrupted"
    assert 19 <= len(rec.started) <= 21
    assert len(rec.responses) == len(rec.started)  # in-flight ones finished within grace
    assert outcome.unfinished == 0


def test_transport_errors_are_counted_by_kind_and_never_crash() -> None:
    clock = FakeClock()
    start = clock.now()
    server = FakeServer(clock, fail=lambda now: now - start < 1.0)
    engine, rec, _ = make(Schedule(10, [(2, 10)]), server, clock=clock)
    outcome = run(engine, clock)
    assert outcome.status == "completed"
    assert Counter(k for k, _ in rec.errors) == {"refused": 10}
    assert len(rec.responses) == 10


def test_a_scenario_that_runs_out_of_input_ends_the_run() -> None:
    clock = FakeClock()
    engine, rec, _ = make(
        Schedule(10, [(10, 10)]), clock=clock, builder=Builder(limit=12), scenario_names=["replay"]
    )
    outcome = run(engine, clock)
    assert len(rec.started) == 12
    assert rec.planned == 12  # the arrival that found the input empty was never planned
    assert outcome.exhausted == ["replay"]
    assert outcome.reason == "every scenario reached the end of its input"


def _stop_at(clock: FakeClock, at_s: float, second_at_s: float | None = None) -> Any:
    """A `during` hook: request a stop at `at_s` (and give up at once at `second_at_s`)."""
    pending: list[asyncio.Future[None]] = []

    def hook(e: Engine) -> None:
        async def later() -> None:
            await clock.sleep(at_s)
            e.request_stop("interrupted", "interrupted by SIGINT")
            if second_at_s is not None:
                await clock.sleep(second_at_s - at_s)
                e.cancel_now()

        pending.append(asyncio.ensure_future(later()))

    return hook


def test_grace_ends_on_the_clock_and_counts_what_never_finished() -> None:
    # Requests take 30 s; a stop at 1.05 s waits 5 s of grace (fake time), then gives up.
    clock = FakeClock()
    server = FakeServer(clock, service=lambda t: 30.0)
    engine, rec, _ = make(Schedule(10, [(10, 10)]), server, clock=clock)
    outcome = run(engine, clock, during=_stop_at(clock, 1.05))
    assert outcome.status == "interrupted"
    assert len(rec.started) == 10 and rec.responses == []  # arrivals at 0.1, 0.2 .. 1.0 s
    assert outcome.unfinished == 10
    # the dispatcher notices the stop on its next wake-up (<= 50 ms), then grace runs
    assert outcome.ended_at - outcome.started_at == pytest.approx(1.05 + 5.0, abs=0.05)


def test_a_second_stop_gives_up_at_once() -> None:
    clock = FakeClock()
    server = FakeServer(clock, service=lambda t: 30.0)
    engine, _, _ = make(Schedule(10, [(10, 10)]), server, clock=clock)
    outcome = run(engine, clock, during=_stop_at(clock, 1.05, second_at_s=2.0))
    assert outcome.unfinished == 10
    assert outcome.ended_at - outcome.started_at == pytest.approx(2.0)


def test_a_stop_while_draining_after_the_schedule_bounds_the_wait_by_grace() -> None:
    # The schedule ends at 1 s, its requests would take 30 s; a stop at 3 s leaves 5 s.
    clock = FakeClock()
    server = FakeServer(clock, service=lambda t: 30.0)
    engine, _, _ = make(Schedule(10, [(1, 10)]), server, clock=clock)
    outcome = run(engine, clock, during=_stop_at(clock, 3.0))
    assert outcome.status == "interrupted"
    assert outcome.unfinished == 10
    assert outcome.ended_at - outcome.started_at == pytest.approx(3.0 + 5.0)


@dataclass
class NeverRetry(Retry):
    """A policy that retries no answer: the engine has no retry rule of its own."""

    def retryable(self, status: int) -> bool:
        return False


def test_the_policy_not_the_engine_says_what_is_retried() -> None:
    clock = FakeClock()
    server = FakeServer(clock, status=lambda t: 503)
    policy = NeverRetry()
    engine, rec, _ = make(Schedule(5, [(1, 5)]), server, clock=clock, retry=policy)
    run(engine, clock)
    assert len(rec.responses) == 5 and not policy.delays  # one attempt each, no backoff asked


class FakeRateCap:
    """A fake rate cap: `every` seconds between sends, on the fake clock."""

    def __init__(self, clock: FakeClock, every: float) -> None:
        self.clock, self.every, self.next = clock, every, clock.now()
        self.asked = 0

    def take(self) -> float:
        self.asked += 1
        wait = self.next - self.clock.now()
        if wait > 1e-9:
            return wait
        self.next = max(self.next, self.clock.now()) + self.every
        return 0.0


def test_the_rate_cap_delays_sends_in_arrival_order_without_dropping() -> None:
    # 20 arrivals over 1 s under a cap of one send per 0.1 s: they wait their turn in line.
    clock = FakeClock()
    cap = FakeRateCap(clock, every=0.1)
    engine, rec, server = make(Schedule(20, [(1, 20)]), clock=clock, rate_cap=cap)
    outcome = run(engine, clock)
    assert outcome.status == "completed"
    assert rec.planned == len(rec.started) == 20 and rec.dropped == 0
    gaps = [b - a for a, b in zip(rec.started, rec.started[1:], strict=False)]
    assert min(gaps) >= 0.1 - 1e-9  # never two sends closer than the cap allows
    assert server.paths == [f"/r/{n}" for n in range(1, 21)]  # first come, first sent
    assert cap.asked < 60  # one timer for the line, not a wake-up per waiting arrival


def test_a_failing_callback_aborts_the_run_and_raises() -> None:
    class Broken(Recorder):
        def record_response(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

    clock = FakeClock()
    engine = Engine(
        schedule=Schedule(10, [(2, 10)]),
        mix=ScenarioMix([1.0]),
        builder=Builder(),
        transport=FakeServer(clock),
        recorder=Broken(),
        clock=clock,
        config=EngineConfig(max_in_flight=100),
    )
    with pytest.raises(RuntimeError, match="boom"):
        run(engine, clock)
    assert engine.outcome.status == "aborted"
    assert engine.outcome.reason is not None and "boom" in engine.outcome.reason


def test_a_stop_asked_for_before_the_run_begins_is_kept() -> None:
    clock = FakeClock()
    engine, rec, _ = make(Schedule(10, [(10, 10)]), clock=clock)
    engine.request_stop("interrupted", "interrupted by SIGTERM")
    outcome = run(engine, clock)
    assert (outcome.status, outcome.reason) == ("interrupted", "interrupted by SIGTERM")
    assert rec.started == []


# An agreed start (`start_at`): waiting for one ahead, skipping what a late one missed.


@dataclass
class DropTimes(Recorder):
    dropped_at: list[float] = field(default_factory=list)

    def record_dropped(self, scenario: int, t_s: float) -> None:
        super().record_dropped(scenario, t_s)
        self.dropped_at.append(t_s)


def test_a_late_start_skips_what_is_past_counts_it_dropped_and_never_bunches() -> None:
    clock = FakeClock()
    schedule = Schedule(10, [(3, 10)])  # 30 arrivals at 0.1, 0.2, ... 3.0
    rec = DropTimes()
    engine, _, _ = make(schedule, clock=clock, start_at=clock.now() - 1.5, recorder=rec)
    outcome = run(engine, clock)
    planned = [t for _, t in schedule.offsets()]
    past = [t for t in planned if t < 1.5 - 0.002]
    assert outcome.status == "completed"
    assert outcome.skipped_late == len(past) == rec.dropped == 14
    assert rec.dropped_at == past  # each counted at the offset (second) it was planned for
    assert rec.planned == 30
    # the rest start on their own times: nothing missed is sent, nothing is pushed together
    ahead = planned[len(past) :]
    assert len(rec.started) == len(ahead)
    assert all(abs(s - p) <= 0.0005 + 1e-9 for s, p in zip(rec.started, ahead, strict=True))
    assert outcome.first_dispatch_at is not None
    assert outcome.first_dispatch_at - outcome.started_at == pytest.approx(1.5, abs=0.001)


def test_a_start_ahead_waits_for_it_then_runs_on_time() -> None:
    clock = FakeClock()
    begin = clock.now()
    schedule = Schedule(10, [(2, 10)])
    engine, rec, _ = make(schedule, clock=clock, start_at=begin + 2.0)
    outcome = run(engine, clock)
    assert outcome.skipped_late == 0 and rec.dropped == 0
    assert outcome.started_at == begin + 2.0
    assert rec.planned == len(rec.started) == 20
    assert rec.started[0] == pytest.approx(0.1, abs=0.0006)  # offsets count from the agreed start
    assert outcome.first_dispatch_at is not None
    assert outcome.first_dispatch_at >= begin + 2.0 + 0.1 - 0.0006


def test_a_stop_while_waiting_for_the_start_sends_nothing() -> None:
    clock = FakeClock()
    engine, rec, _ = make(Schedule(10, [(2, 10)]), clock=clock, start_at=clock.now() + 60)
    outcome = run(engine, clock, during=_stop_at(clock, 1.0))
    assert outcome.status == "interrupted"
    assert rec.planned == 0 and rec.started == []
    assert outcome.first_dispatch_at is None
    assert clock.now() < outcome.started_at  # it did not wait out the minute


def test_a_start_missed_by_less_than_the_tolerance_skips_nothing() -> None:
    clock = FakeClock()
    schedule = Schedule(1000, [(1, 1000)])  # one arrival a millisecond, the first at 1 ms
    engine, rec, _ = make(schedule, clock=clock, start_at=clock.now() - 0.0015)
    outcome = run(engine, clock)
    assert outcome.skipped_late == 0
    assert rec.planned == len(rec.started) == 1000
