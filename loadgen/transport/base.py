"""The transport contract: one async method that sends a prepared request.

The engine only sees this module; `fast.py` and `httpx_transport.py` implement it.
Errors never escape as arbitrary exceptions: every failure to get a response is a
`TransportError` with a `kind` the metrics count by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

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


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One HTTP request, fully built by a scenario before it is due.

    `path` includes the query string. `headers` never include Host or Content-Length:
    the transport adds them. The body is already encoded (and compressed, if asked).
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)  # may carry credentials
    body: bytes = field(default=b"", repr=False)  # may carry an api_key


@dataclass(frozen=True, slots=True)
class Response:
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


class Transport(Protocol):
    """Sends requests to one origin (scheme, host, port) fixed at construction."""

    async def send(self, request: RequestSpec) -> Response:
        """Send and read the whole response, or raise `TransportError`."""
        ...

    async def aclose(self) -> None:
        """Close every connection; later sends raise `TransportError("closed")`."""
        ...
