"""The mock's request handling, independent of sockets: route -> faults -> validate -> count.

`MockApp.handle` turns one parsed request into a `Reply` (the response bytes plus how to
deliver them: after a delay, by closing, or by a reset). Admin routes under `/_loadgen/`
are never rate limited nor fault-injected. Time comes from the `clock` given, so tests
drive it by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

import orjson

from loadgen.buckets import KeyedBuckets
from loadgen.mock import customerio, posthog, segment
from loadgen.mock.config import MockConfig
from loadgen.mock.faults import FaultInjector
from loadgen.mock.model import Context, Rejection, Request, Verdict, json_bytes
from loadgen.mock.routes import Route
from loadgen.mock.stats import APIS, Stats, StatsLimits

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_INJECTED = b'{"error":"service unavailable (fault injected by the loadgen mock)"}'


@dataclass(slots=True)
class Reply:
    """A response ready to write; `reset` means abort the connection with RST instead.

    `linger`: after writing, half-close and keep discarding what the client still sends
    for a moment before closing, so a client busy uploading a refused body reads the
    answer instead of a reset.
    """

    api: str
    status: int
    data: bytes
    close: bool = False
    delay: float = 0.0
    reset: bool = False
    linger: bool = False


def http_response(
    status: int,
    body: bytes,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    close: bool = False,
) -> bytes:
    """Serialize an HTTP/1.1 response with a JSON body."""
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
    if body or status not in (204, 304):
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    if close:
        head += "Connection: close\r\n"
    return head.encode("latin-1") + b"\r\n" + body


class MockApp:
    """Validates, rate-limits, counts and (on demand) misbehaves."""

    def __init__(self, config: MockConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config, self.clock = config, clock
        self.stats = Stats(
            StatsLimits(
                config.exact_ids, config.top_ids, config.overflow_rate, config.overflow_burst
            )
        )
        self.faults = FaultInjector(config.faults, config.seed, clock())
        self._limiters: dict[str, KeyedBuckets] = {}
        self._new_limiters()

    def _new_limiters(self) -> None:
        rate = self.config.rps_limit
        if rate > 0:
            burst = max(1.0, rate)  # one second's worth
            self._limiters = {api: KeyedBuckets(rate, burst, 10_000) for api in APIS}

    def handle(
        self, req: Request, route: Route | None, customer_id: str, keep_alive: bool
    ) -> Reply:
        if route is None:
            return self.plain(404, "no such route", keep_alive)
        if req.method not in route.methods:
            return self.plain(405, f"use {' or '.join(route.methods)}", keep_alive)
        if route.api == "admin":
            return self._admin(route.kind, req, keep_alive)
        self.stats.arrival(self.clock())
        delay = 0.0
        if self.faults.spec.active:
            action, delay = self.faults.decide(self.clock())
            if action == "reset":
                return Reply(route.api, 0, b"", delay=delay, reset=True)
            if action == "error":
                data = http_response(503, _INJECTED, close=not keep_alive)
                return Reply(route.api, 503, data, not keep_alive, delay)
        verdict = self._verdict(req, route, customer_id)
        if 200 <= verdict.status < 300 and verdict.workspace is not None:
            api_stats = self.stats.apis[route.api]
            api_stats.accept(verdict.workspace, verdict.events, verdict.historical, self.clock())
            api_stats.rejected_events += verdict.rejected
        data = http_response(verdict.status, verdict.body, verdict.headers, close=not keep_alive)
        return Reply(route.api, verdict.status, data, not keep_alive, delay)

    def _verdict(self, req: Request, route: Route, customer_id: str) -> Verdict:
        limiter = self._limiters.get(route.api)
        clock = self.clock
        ctx = Context(
            self.config.accepted_keys,
            (lambda ws: limiter.take(ws, clock())) if limiter is not None else _unlimited,
        )
        kind = route.kind
        try:
            if route.api == "posthog":
                return posthog.handle(kind, req, ctx)
            if route.api == "segment":
                return segment.handle(kind, req, ctx)
            if kind == "identify" and req.method == "DELETE":
                kind = "delete"
            return customerio.handle(kind, req, ctx, customer_id)
        except Rejection as rej:
            return self.rejection(route, rej, ctx.workspace)

    def rejection(self, route: Route, rej: Rejection, workspace: str | None = None) -> Verdict:
        """The API's own error response for `rej`."""
        if route.api == "posthog":
            body = posthog.error_body(rej)
        elif route.api == "segment":
            body = segment.error_body(rej)
        elif route.api == "customerio":
            body = customerio.error_body(rej, route.kind)
        else:
            body = json_bytes({"error": rej.message})
        headers: tuple[tuple[str, str], ...] = ()
        if rej.retry_after is not None:
            headers = (("Retry-After", str(rej.retry_after)),)
            if route.api == "segment":
                headers += (("X-RateLimit-Reset", str(rej.retry_after)),)
        return Verdict(rej.status, body, workspace, headers=headers)

    def early(self, route: Route | None, status: int, message: str) -> Reply:
        """An error decided by the HTTP layer (oversize, bad framing): answer, then close."""
        if route is None or route.api == "admin":
            reply = self.plain(status, message, keep_alive=False)
        else:
            verdict = self.rejection(route, Rejection(status, message, "payload_rejected"))
            reply = Reply(route.api, status, http_response(status, verdict.body, close=True), True)
        reply.linger = True
        return reply

    def plain(self, status: int, message: str, keep_alive: bool, api: str = "other") -> Reply:
        body = json_bytes({"error": message})
        return Reply(api, status, http_response(status, body, close=not keep_alive), not keep_alive)

    def _admin(self, kind: str, req: Request, keep_alive: bool) -> Reply:
        status, payload = 200, self._admin_payload(kind, req)
        if isinstance(payload, Rejection):
            status, payload = payload.status, {"error": payload.message}
        body = orjson.dumps(payload)
        return Reply(
            "admin", status, http_response(status, body, close=not keep_alive), not keep_alive
        )

    def _admin_payload(self, kind: str, req: Request) -> dict[str, object] | Rejection:
        if kind == "health":
            return {"ok": True}
        if kind == "stats" and req.method == "GET":
            return self.stats.snapshot(self.fault_state())
        if kind in ("stats", "reset"):
            self.reset()
            return {"reset": True}
        if req.method == "POST":
            try:
                changes = orjson.loads(req.body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of fault fields")
                seed = changes.get("seed")
                if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                    raise ValueError("seed: expected an integer")
                spec = self.faults.spec.updated(changes)
            except ValueError as exc:  # orjson.JSONDecodeError is a ValueError too
                return Rejection(400, str(exc))
            self.faults.set(spec, self.clock(), seed)
        return self.fault_state()

    def fault_state(self) -> dict[str, object]:
        return {**self.faults.spec.describe(), "injected": dict(self.faults.counts)}

    def reset(self) -> None:
        """Forget every count, identified id, overflow and rate-limit state (not the faults)."""
        self.stats.reset()
        self.faults.reset_counts()
        self._new_limiters()


def _unlimited(_workspace: str) -> float:
    return 0.0
