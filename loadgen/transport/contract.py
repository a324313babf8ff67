"""The transport contract: send a prepared request, awaited (`send`) or with a callback
(`submit`, the engine's hot path: no task and no future per request).

The engine only sees this module; `fast.py` and `httpx_transport.py` implement it.
Errors never escape as arbitrary exceptions: every failure to get a response is a
`TransportError` with a `kind` the metrics count by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal, NamedTuple, Protocol

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


class TaskSubmitter:
    """`submit` for what only has `send`: one task per request, kept so `cancel` can stop
    them, each still reporting "closed" (the fast transport uses it for its slow paths:
    opening a connection, the one retry, a submit after close)."""

    __slots__ = ("_send", "_tasks")

    def __init__(self, send: Callable[[RequestSpec], Awaitable[Response]]) -> None:
        self._send = send
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, request: RequestSpec, on_done: OnDone) -> None:
        self.run(self._send(request), on_done)

    def run(self, pending: Awaitable[Response], on_done: OnDone) -> None:
        """Deliver what `pending` gives (a response or a `TransportError`) to `on_done`."""
        task = asyncio.get_running_loop().create_task(_deliver(pending, on_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def _deliver(pending: Awaitable[Response], on_done: OnDone) -> None:
    try:
        outcome: Outcome = await pending
    except TransportError as exc:
        outcome = exc
    except asyncio.CancelledError:  # the transport was closed: say so, as `send` would
        on_done(TransportError("closed", "transport closed before the response"))
        raise
    except Exception as exc:  # a bug must still end the request, counted, not hang the run
        outcome = TransportError("other", f"{exc!r}")
    on_done(outcome)
