"""One HTTP/1.1 client connection: an asyncio Protocol feeding httptools.

It only reports what it sees: the response (or why there is none) goes to the callback
given by `begin`; the pool (`pool.py`) decides about reuse, the transport (`fast.py`) about
retries and timeouts. A response is handed over after the parser has returned, never from
inside its callbacks, so the receiver may start the next request on this connection at
once. Only the parser callbacks defined here are wired by httptools, which keeps parsing
cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, cast

import httptools

from loadgen.transport.contract import (
    MAX_BODY_BYTES,
    ErrorKind,
    Outcome,
    Response,
    TransportError,
)
from loadgen.transport.retry_after import parse_retry_after
from loadgen.transport.socket_layer import os_error_kind


class Pool(Protocol):
    """What a connection needs from the pool that owns it."""

    last_response: Response

    def idle_lost(self, conn: Connection) -> None: ...


class StaleConnection(TransportError):
    """A reused connection closed before any response byte: safe to retry once."""


class Connection(asyncio.Protocol):
    """One connection and its parser. The pool drives it; it only reports what it sees."""

    __slots__ = (
        "body",
        "deadline",
        "framed",
        "got_bytes",
        "head_only",
        "headers_done",
        "keep_alive",
        "notify",
        "parser",
        "pool",
        "ready",
        "retry_after",
        "reused",
        "transport",
    )

    transport: asyncio.Transport  # set by connection_made, before the pool ever sees it

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.notify: Callable[[Outcome], None] | None = None  # set while a request is on
        self.ready: Response | None = None  # complete, handed over once the parser returns
        self.reused = False
        self.deadline = 0.0
        self.head_only = False
        self._reset_message()

    def _reset_message(self) -> None:
        self.body = b""
        self.retry_after: bytes | None = None
        self.framed = False  # Content-Length or chunked seen; else the body ends at EOF
        self.headers_done = False
        self.got_bytes = False
        self.keep_alive = False

    def begin(self, notify: Callable[[Outcome], None], deadline: float, head_only: bool) -> None:
        self._reset_message()
        self.notify, self.deadline, self.head_only = notify, deadline, head_only

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.notify is None:  # bytes nobody asked for: the connection is out of step
            self.abort()
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._deliver_ready()
            self.fail("protocol", "server switched protocols (upgrade), which is not supported")
            return
        except httptools.HttpParserError as exc:
            self._deliver_ready()  # a complete response stands; trailing garbage ends the link
            self.fail("protocol", f"malformed HTTP response: {exc}")
            return
        self._deliver_ready()

    def connection_lost(self, exc: Exception | None) -> None:
        notify = self.notify
        if notify is None:
            self.pool.idle_lost(self)
            return
        self.notify = None
        if exc is None and self.headers_done and not self.framed:
            notify(self._response())  # an unframed body ends where the stream does
        elif not self.got_bytes and self.reused:
            notify(StaleConnection("reset", "keep-alive connection closed"))
        elif exc is None:
            notify(TransportError("reset", "server closed the connection early"))
        else:
            notify(TransportError(os_error_kind(exc), f"connection lost: {exc}"))

    # httptools callbacks (only the ones defined here are wired, to keep parsing cheap)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name)
        if size == 11:
            if name.lower() == b"retry-after":
                self.retry_after = value
        elif size == 14 or size == 17:
            lower = name.lower()
            if lower == b"content-length" or lower == b"transfer-encoding":
                self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.head_only:  # the parser cannot know a HEAD response has no body
            self._complete(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        if not self.body:
            self.body = body[:MAX_BODY_BYTES]
        elif len(self.body) < MAX_BODY_BYTES:
            self.body += body[: MAX_BODY_BYTES - len(self.body)]

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # interim (100, 103): wait for the real one
            self._reset_message()
            self.got_bytes = True
            return
        self._complete(self.parser.should_keep_alive() and not self.head_only)

    # helpers

    def _complete(self, keep_alive: bool) -> None:
        if self.notify is None or self.ready is not None:
            return
        self.keep_alive = keep_alive
        self.ready = self._response()

    def _deliver_ready(self) -> None:
        ready, notify = self.ready, self.notify
        if ready is not None and notify is not None:
            self.ready = self.notify = None
            notify(ready)

    def _response(self) -> Response:
        status, body, raw = self.parser.get_status_code(), self.body, self.retry_after
        if raw is not None:
            return Response(status, parse_retry_after(raw), body)
        last = self.pool.last_response  # responses are immutable: share identical ones
        if last.status == status and last.body == body:
            return last
        last = self.pool.last_response = Response(status, None, body)
        return last

    def fail(self, kind: ErrorKind, message: str) -> None:
        """End the request in flight (if any) with an error and drop the connection."""
        notify = self.notify
        self.notify = self.ready = None
        if notify is not None:
            notify(TransportError(kind, message))
        self.abort()

    def abort(self) -> None:
        self.transport.abort()

    def alive(self) -> bool:
        return not self.transport.is_closing()
