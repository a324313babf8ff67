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

No task, future or await per request: an arrival is built and handed to the transport's
`submit` on the dispatcher's wake-up, and the transport calls back with the outcome, where
it is recorded, retried (a timer) or followed by the next request of its key. Tasks would
cost several µs a request, a third of the budget at tens of thousands a second.

An agreed start (`start_at`, a fleet's common offset 0) may be in the future: the
dispatcher then waits for it as for any arrival, so a stop still ends the wait. If it is
already past, the arrivals planned before now are not sent but counted as dropped in the
second they were planned for (`skipped_late`), and dispatch starts with the first one still
ahead: a late slice never bunches what it missed.

No policy and no formatting here: the guard, the artifact and the display live elsewhere.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

from loadgen.arrivals.mix import ScenarioMix
from loadgen.arrivals.schedule import FULL_SEGMENT, ExecutionSegment, Schedule
from loadgen.errors import ScenarioExhausted
from loadgen.results.status import RunStatus
from loadgen.run.clock import Clock, Timer
from loadgen.run.collaborators import Builder, RateCapLike, Recorder, RetryPolicy, Safety
from loadgen.transport import Outcome, RequestSpec, Response, Transport


@dataclass(frozen=True, slots=True)
class EngineConfig:
    max_in_flight: int
    grace_s: float = 5.0
    ordered: bool = False  # never two requests in flight for one key (distinct_id)
    early_s: float = 0.0005
    min_sleep_s: float = 0.001
    max_sleep_s: float = 0.05  # wake at least this often to notice a stop
    # An agreed start missed by no more than this is on time: its first arrivals go out
    # with that much lag (recorded) instead of being skipped.
    late_start_tolerance_s: float = 0.002


@dataclass(slots=True)
class EngineOutcome:
    status: RunStatus = "completed"
    reason: str | None = None
    started_at: float = 0.0  # clock time of offset 0
    ended_at: float = 0.0
    unfinished: int = 0  # requests given up on after the grace period (or a second stop)
    exhausted: list[str] = field(default_factory=list)
    began_at: float | None = None  # clock time `run` was called (after an agreed start: late)
    first_dispatch_at: float | None = None  # clock time of the first arrival's turn
    skipped_late: int = 0  # arrivals already past at a late agreed start: counted as dropped


class _Arrival:
    """One accepted arrival, through its attempts. It holds no reference back to the
    engine or its callback: a reference cycle per request would be left to the cyclic GC,
    whose full collections stall the loop for milliseconds."""

    __slots__ = ("attempt", "key", "planned", "request", "scenario", "sent")

    def __init__(self, scenario: int, planned: float, request: RequestSpec) -> None:
        self.scenario, self.planned, self.request = scenario, planned, request
        self.key: str | None = None
        self.attempt = 0
        self.sent = 0.0


class Engine:
    """Starts the schedule's arrivals of one segment on time through the transport, and
    records, retries and finishes each from the transport's callback (no task per request).
    `run()` returns how the run ended; `request_stop` and `cancel_now` end it early."""

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
        segment: ExecutionSegment = FULL_SEGMENT,
        safety: Safety | None = None,
        retry: RetryPolicy | None = None,
        rate_cap: RateCapLike | None = None,
        scenario_names: list[str] | None = None,
        start_at: float | None = None,
    ) -> None:
        """`start_at` is the clock time of offset 0 agreed with other workers (default:
        when `run` is called)."""
        self._schedule, self._mix, self._builder = schedule, mix, builder
        self._transport, self._rec, self._clock = transport, recorder, clock
        self._cfg, self._segment = config, segment
        self._safety, self._retry, self._rate_cap = safety, retry, rate_cap
        self._names = scenario_names or []
        self._in_flight = 0  # accepted and not finished: waiting (cap, key, retry) or sent
        self._waiting: dict[str, deque[_Arrival]] = {}  # ordered mode: behind a key
        self._rate_cap_queue: deque[_Arrival] = deque()
        self._rate_cap_timer: Timer | None = None  # armed whenever the queue is not empty
        self._retry_timers: dict[_Arrival, Timer] = {}  # an arrival waits on one at a time
        self._exhausted: set[int] = set()
        self._stop: asyncio.Event | None = None
        self._idle: asyncio.Future[None] | None = None  # set once nothing is in flight
        self._grace_timer: Timer | None = None
        self._abandoned = False  # given up on what is in flight: late outcomes are ignored
        self._crash: BaseException | None = None
        self.outcome = EngineOutcome()
        self._t0 = 0.0
        self._start_at = start_at

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
        if self._idle is not None:  # already draining: from now on, only for `grace_s`
            self._arm_grace()

    def cancel_now(self) -> None:
        """A second interrupt: give up on requests in flight at once."""
        if self._stop is not None:
            self._stop.set()
        self._abandon()

    async def run(self) -> EngineOutcome:
        self._stop = asyncio.Event()
        if self.outcome.reason is not None:  # a stop asked for before the run began
            self._stop.set()
        self.outcome.began_at = began = self._clock.now()
        self._t0 = began if self._start_at is None else self._start_at
        self.outcome.started_at = self._t0
        await self._dispatch()
        await self._drain()
        self.outcome.ended_at = self._clock.now()
        self.outcome.exhausted = [self._name(i) for i in sorted(self._exhausted)]
        if self._crash is not None:
            raise self._crash
        return self.outcome

    def _name(self, scenario: int) -> str:
        return self._names[scenario] if scenario < len(self._names) else str(scenario)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    # arrivals

    async def _dispatch(self) -> None:
        clock, cfg, t0 = self._clock, self._cfg, self._t0
        window = cfg.early_s + 1e-7  # 0.1 µs of slack absorbs float noise in `due - now`
        offsets = self._schedule.offsets(self._segment)
        if clock.now() - t0 > cfg.late_start_tolerance_s:
            offsets = await self._skip_past(offsets)
        first_at: float | None = None
        for n, offset in offsets:
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
            if first_at is None:  # the moment dispatch really began, for the artifact
                first_at = self.outcome.first_dispatch_at = now
            self._arrive(n, offset, due, now)

    async def _skip_past(self, offsets: Iterator[tuple[int, float]]) -> Iterator[tuple[int, float]]:
        """Count as dropped every arrival already past, judged by the clock as it goes (so
        the skipping's own time is skipped too); return the rest, from the first ahead."""
        clock, rec, t0, pick = self._clock, self._rec, self._t0, self._mix.pick
        tolerance = self._cfg.late_start_tolerance_s
        skipped = 0
        for n, offset in offsets:
            if t0 + offset >= clock.now() - tolerance:
                self.outcome.skipped_late = skipped
                return itertools.chain([(n, offset)], offsets)
            rec.record_planned(offset)
            rec.record_dropped(pick(n), offset)
            skipped += 1
            if skipped % 65536 == 0:  # a long skip must not deafen the loop to a stop
                await clock.sleep(0)
                if self._stopping():
                    break
        self.outcome.skipped_late = skipped
        return iter(())

    def _arrive(self, n: int, offset: float, due: float, now: float) -> None:
        scenario = self._mix.pick(n)
        if scenario in self._exhausted:
            return
        if self._in_flight >= self._cfg.max_in_flight:
            self._rec.record_planned(offset, scenario)
            self._rec.record_dropped(scenario, offset)
            return
        try:
            built = self._builder.build(scenario, n)
        except ScenarioExhausted:  # not planned: the input has nothing left to send
            self._exhausted.add(scenario)
            if len(self._exhausted) == len(self._mix.shares):
                self.request_stop("completed", "every scenario reached the end of its input")
            return
        self._rec.record_planned(offset, scenario)
        self._rec.record_lag(_us(now - due))  # an early start (within early_s) is 0 lag
        self._in_flight += 1
        arrival = _Arrival(scenario, due, built.request)
        if self._cfg.ordered and (key := built.key) is not None:
            arrival.key = key
            queue = self._waiting.get(key)
            if queue is not None:  # this user has a request in flight: wait behind it
                queue.append(arrival)
                return
            self._waiting[key] = deque()
        self._send(arrival)

    # sending: through the rate cap, then the transport

    def _send(self, a: _Arrival) -> None:
        rate_cap = self._rate_cap
        if rate_cap is not None:
            if self._rate_cap_queue:  # others wait for the cap already: keep their order
                self._rate_cap_queue.append(a)
                return
            wait = rate_cap.take()
            if wait > 0:
                self._rate_cap_queue.append(a)
                self._rate_cap_timer = self._clock.call_later(wait, self._rate_cap_turn)
                return
        self._submit(a)

    def _rate_cap_turn(self) -> None:
        """The cap's timer: send the queued arrivals it allows now, then wait again."""
        self._rate_cap_timer = None
        queue, rate_cap = self._rate_cap_queue, self._rate_cap
        try:
            while queue and rate_cap is not None:
                wait = rate_cap.take()
                if wait > 0:
                    self._rate_cap_timer = self._clock.call_later(wait, self._rate_cap_turn)
                    return
                self._submit(queue.popleft())
        except Exception as exc:
            self._crashed(exc)

    def _submit(self, a: _Arrival) -> None:
        a.sent = sent = self._clock.now()
        self._rec.record_started(a.scenario, sent - self._t0)
        self._transport.submit(a.request, partial(self._on_done, a))

    # outcomes

    def _on_done(self, a: _Arrival, outcome: Outcome) -> None:
        """The transport's callback: record, then retry, or finish and start what waits."""
        if self._abandoned:
            return
        try:
            status = self._record(a, outcome)
            retry = self._retry
            # Only an error answer is put to the policy: a success costs one comparison.
            if (
                retry is not None
                and status is not None
                and status >= 400
                and retry.retryable(status)
                and a.attempt < retry.max_retries
                and not self._stopping()
            ):
                assert isinstance(outcome, Response)
                delay = retry.delay(a.attempt, outcome.retry_after_s)
                a.attempt += 1
                self._retry_later(a, delay)
                return
            self._finish(a)
        except Exception as exc:  # a bug: end the run (with its artifact), never hang it
            self._crashed(exc)

    def _record(self, a: _Arrival, outcome: Outcome) -> int | None:
        clock, rec, t0 = self._clock, self._rec, self._t0
        done = clock.now()
        sent = a.sent
        # microseconds, inlined (a call costs more than the arithmetic); the clock is
        # monotonic, so only service time net of queueing can dip below zero (float noise)
        latency_us = int((done - (a.planned if a.planned < sent else sent)) * 1_000_000)
        if isinstance(outcome, Response):
            status: int | None = outcome.status
            service_us = int((done - sent - outcome.queued_s) * 1_000_000)
            rec.record_response(
                a.scenario,
                done - t0,
                latency_us,
                service_us if service_us > 0 else 0,
                outcome.status,
                outcome.retry_after_s,
                a.attempt,
            )
        else:
            status = None
            service_us = int((done - sent) * 1_000_000)
            rec.record_error(a.scenario, done - t0, latency_us, service_us, outcome.kind, a.attempt)
        safety = self._safety
        if safety is not None:
            safety.observe(done - t0, status, status is None)
            reason = safety.tripped()
            if reason is not None:
                self.request_stop("aborted", reason)
        return status

    def _retry_later(self, a: _Arrival, delay: float) -> None:
        self._retry_timers[a] = self._clock.call_later(delay, partial(self._retry_now, a))

    def _retry_now(self, a: _Arrival) -> None:
        self._retry_timers.pop(a, None)
        if self._abandoned:
            return
        try:
            self._send(a)
        except Exception as exc:
            self._crashed(exc)

    def _finish(self, a: _Arrival) -> None:
        self._in_flight -= 1
        key = a.key
        if key is not None:  # ordered mode: the next request of this user, if one waits
            queue = self._waiting.get(key)
            if queue:
                self._send(queue.popleft())
                return
            self._waiting.pop(key, None)
        if self._in_flight == 0 and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _crashed(self, exc: BaseException) -> None:
        if self._crash is None:
            self._crash = exc
        self.request_stop("aborted", f"internal error: {exc!r}")

    # the end

    async def _drain(self) -> None:
        """Wait for requests in flight: all of them normally, `grace_s` after a stop."""
        if self._in_flight == 0 or self._abandoned:
            self._in_flight = 0
            return
        self._idle = asyncio.get_running_loop().create_future()
        if self._stopping():
            self._arm_grace()
        try:
            await self._idle
        finally:
            if self._grace_timer is not None:
                self._grace_timer.cancel()
        if self._in_flight:
            self._abandon()

    def _arm_grace(self) -> None:
        if self._grace_timer is None:
            self._grace_timer = self._clock.call_later(self._cfg.grace_s, self._grace_over)

    def _grace_over(self) -> None:
        idle = self._idle
        if idle is not None and not idle.done():
            idle.set_result(None)

    def _abandon(self) -> None:
        """Give up on everything in flight or waiting; later outcomes are ignored."""
        self.outcome.unfinished = max(self.outcome.unfinished, self._in_flight)
        self._abandoned = True
        for timer in self._retry_timers.values():
            timer.cancel()
        self._retry_timers.clear()
        if self._rate_cap_timer is not None:
            self._rate_cap_timer.cancel()
            self._rate_cap_timer = None
        self._rate_cap_queue.clear()
        self._waiting.clear()
        self._in_flight = 0
        self._grace_over()


def _us(seconds: float) -> int:
    return max(0, int(seconds * 1_000_000))
