"""What every API's builder shares: the built request, one event in API-neutral form, ids,
timestamps and body encoding.

Event slots: request n (1-based, from the schedule) holds events i = 0 .. batch_size-1, and
event slot `serial = n * SERIAL_STRIDE + i` is unique in the run. Ids (uuid, ULID,
messageId) are bijective scrambles of the serial mixed with a per-run nonce: unique across
the events of a run and across distributed workers (they never share an n), and different
from any other run's (the nonce is random unless given).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

import orjson

from loadgen import __version__
from loadgen.inputs.models import MAX_BATCH_SIZE
from loadgen.inputs.templates import mix62, uuid_string
from loadgen.scenarios.users import mix64
from loadgen.transport import USER_AGENT, RequestSpec

# Event slots per request: no request holds more events than the reader lets a batch have.
SERIAL_STRIDE = MAX_BATCH_SIZE
LIBRARY = {"name": "loadgen", "version": __version__}
JSON_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "application/json"),
    ("User-Agent", USER_AGENT),
)
_M62 = (1 << 62) - 1
_ULID_SALT = 0x3C6EF372FE94F82B
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> 2 characters

OpKind = Literal["track", "identify", "alias"]


class BuiltRequest(NamedTuple):
    """One request ready to send; `key` orders a user's requests, `events` counts events."""

    request: RequestSpec
    key: str | None
    events: int

    def __repr__(self) -> str:  # the request holds credentials: show only what is safe
        r = self.request
        return (
            f"BuiltRequest({r.method} {r.path}, key={self.key!r}, events={self.events}, "
            f"body={len(r.body)} bytes)"
        )


@dataclass(slots=True)
class Op:
    """One event to send, before an API gives it its shape.

    `anonymous`: a track before the user's identify, sent with `anon_id` only.
    `anon_id` on an identify: the anonymous id it links to `user_id` (None if unknown).
    `alias` on an alias: the new id linked to `user_id`.
    """

    kind: OpKind
    user_id: str
    anon_id: str | None
    anonymous: bool
    event: str
    properties: dict[str, Any]
    ts: float
    serial: int
    alias: str | None = None
    message_id: str | None = None  # an id the input already carried (replay)

    @property
    def distinct_id(self) -> str:
        return self.anon_id if self.anonymous and self.anon_id else self.user_id


@dataclass(slots=True)
class Wire:
    """One event in an API's shape: how to send it alone, and the object a batch holds."""

    kind: str
    method: str
    path: str
    body: dict[str, Any]
    key: str | None


class RecordError(ValueError):
    """A replayed record cannot be mapped onto the API (the message says why)."""


class ApiFormat(Protocol):
    """One API (and version): its wire shapes, credentials and limits."""

    api: str
    batch_path: str | None
    anonymous_tracks: bool  # whether a track before identify goes out with an anonymous id

    def headers(self) -> tuple[tuple[str, str], ...]: ...
    def native_time(self, ts: float) -> object: ...
    def wire(self, op: Op) -> Wire: ...
    def single_body(self, wire: Wire) -> dict[str, Any]: ...
    def batch_body(self, wires: list[Wire], sent_at: float, historical: bool) -> dict[str, Any]: ...
    def passthrough(self, record: dict[str, Any], ts: float, serial: int) -> Wire | None:
        """The record as is (ids and timestamp filled in) if it already has the API's shape."""
        ...


class Ids:
    """Run-unique event ids from (nonce, serial); see the module docstring."""

    __slots__ = ("_hi", "_salt")

    def __init__(self, nonce: int) -> None:
        self._hi = mix64(nonce)
        self._salt = mix64(nonce ^ 0x9E3779B97F4A7C15) & _M62

    def uuid(self, serial: int) -> str:
        lo = mix62(serial ^ self._salt)
        return uuid_string(mix64(self._hi ^ lo), lo)

    def ulid(self, serial: int, ts: float) -> str:
        """A ULID: 48-bit milliseconds of the event's time, then 80 bits unique per serial."""
        lo = mix62(serial ^ self._salt ^ _ULID_SALT)
        ms = max(0, math.floor(ts * 1000)) & ((1 << 48) - 1)  # as in the ISO timestamp
        value = (ms << 80) | ((mix64(self._hi ^ lo) & 0x3FFFF) << 62) | lo
        return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


class Timeline:
    """Event timestamps: now, or spread over the past `history_s` in request order.

    With history, request n of `planned` covers [start + (n-1)*step, start + n*step) with
    step = history_s / planned and start = run start - history_s; a batch's events are
    spread evenly inside it, so timestamps increase with n as an import replays history.
    """

    __slots__ = ("_clock", "_end", "_history", "_planned", "_start")

    def __init__(self, clock: Callable[[], float], history_s: float, planned: float) -> None:
        self._clock = clock
        self._history = history_s
        self._planned = max(1.0, planned)
        self._end = clock() if history_s > 0 else 0.0
        self._start = self._end - history_s

    def now(self) -> float:
        return self._clock()

    def time(self, n: int) -> float:
        """The timestamp of request n's only event (`times(n, 1)[0]`, cheaper)."""
        if self._history <= 0:
            return self._clock()
        return self._start + self._history * min((n - 0.5) / self._planned, 1.0)

    def times(self, n: int, count: int) -> list[float]:
        if self._history <= 0:
            return [self._clock()] * count
        start, width, planned = self._start, self._history, self._planned
        return [
            start + width * min((n - 1 + (i + 0.5) / count) / planned, 1.0) for i in range(count)
        ]


class Encoder:
    """JSON (orjson) and optional gzip (level 1: cheap, and what matters is the format)."""

    __slots__ = ("_gzip", "headers")

    def __init__(self, headers: tuple[tuple[str, str], ...], gzip: bool) -> None:
        self._gzip = gzip
        self.headers = (*headers, ("Content-Encoding", "gzip")) if gzip else headers

    def __repr__(self) -> str:
        return f"Encoder(gzip={self._gzip})"

    def request(self, method: str, path: str, body: object) -> RequestSpec:
        data = orjson.dumps(body)
        if self._gzip:
            data = zlib.compress(data, 1, wbits=31)
        return RequestSpec(method, path, self.headers, data)


__all__ = [
    "JSON_HEADERS",
    "LIBRARY",
    "SERIAL_STRIDE",
    "USER_AGENT",
    "ApiFormat",
    "BuiltRequest",
    "Encoder",
    "Ids",
    "Op",
    "RecordError",
    "Timeline",
    "Wire",
]
