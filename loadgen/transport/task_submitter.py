"""`submit` from `send`, one task per request: for the transports' slow paths."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from loadgen.transport.contract import OnDone, Outcome, RequestSpec, Response, TransportError


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
