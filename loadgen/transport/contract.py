"""The transport contract: send a prepared request, awaited (`send`) or with a callback
(`submit`, the engine's hot path: no task and no future per request).
Types only, no asyncio: scenarios and the profile reader import them for `loadgen lint` too.

The engine only sees this contract (through the package face, `loadgen.transport`);
`fast.py` and `httpx_transport.py` implement it, and the conformance suite holds both to it.
Errors never escape as arbitrary exceptions: every failure to get a response is a
`TransportError` with a `kind` the metrics count by.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

from loadgen import __version__

MAX_BODY_BYTES = 64 * 1024  # response bytes kept per request; the rest is read and dropped
USER_AGENT = f"loadgen/{__version__}"  # sent unless the request sets its own

ErrorKind = Literal["refused", "reset", "timeout", "protocol", "tls", "dns", "closed", "other"]
ERROR_KINDS: tuple[ErrorKind, ...] = (
    "refused",
    "reset",
    "timeout",
    "protocol",
    "tls",
    "dns",
    "closed",
    "other",
)


# Immutable NamedTuples rather than frozen dataclasses: several are made per request, and
# a frozen dataclass's __init__ (object.__setattr__ per field) costs ~4x a tuple's.
class RequestSpec(NamedTuple):
    """One HTTP request, fully built by a scenario before it is due.

    `path` includes the query string. `headers` never include Host or Content-Length:
    the transport adds them. The body is already encoded (and compressed, if asked).
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]  # may carry credentials: not in the repr
    body: bytes = b""  # may carry an api_key: not in the repr

    def __repr__(self) -> str:
        return f"RequestSpec(method={self.method!r}, path={self.path!r})"


class Response(NamedTuple):
    """What the engine needs from a response: the status, Retry-After and the body."""

    status: int
    retry_after_s: float | None = None
    body: bytes = b""
    # Seconds the request waited inside loadgen for a free pooled connection: queueing in
    # the client, not time the server spent, so the engine leaves it out of service time.
    queued_s: float = 0.0


class TransportError(Exception):
    """A request that got no HTTP response; `kind` says why."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


Outcome = Response | TransportError
OnDone = Callable[[Outcome], None]


class Transport(Protocol):
    """Sends requests to one origin (scheme, host, port) fixed at construction."""

    async def send(self, request: RequestSpec) -> Response:
        """Send and read the whole response, or raise `TransportError`."""
        ...

    def submit(self, request: RequestSpec, on_done: OnDone) -> None:
        """Start sending now; `on_done` gets the response or the `TransportError` once,
        always later (never from inside `submit`), unless the transport is closed first."""
        ...

    async def aclose(self) -> None:
        """Close every connection; later sends raise `TransportError("closed")`."""
        ...
