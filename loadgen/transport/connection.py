"""One HTTP/1.1 client connection: an asyncio Protocol feeding httptools.

It only reports what it sees: the response (or why there is none) goes to the future
given by `begin`; the pool (`fast.py`) decides about reuse, retries and timeouts. Only the
parser callbacks defined here are wired by httptools, which keeps parsing cheap.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

import httptools

from loadgen.transport.base import ErrorKind, Response, TransportError
from loadgen.transport.common import MAX_BODY_BYTES, os_error_kind
from loadgen.transport.retry_after import parse_retry_after


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
        "parser",
        "pool",
        "retry_after",
        "reused",
        "transport",
        "waiter",
    )

    transport: asyncio.Transport  # set by connection_made, before the pool ever sees it

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
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

    def begin(self, waiter: asyncio.Future[Response], deadline: float, head_only: bool) -> None:
        self._reset_message()
        self.waiter, self.deadline, self.head_only = waiter, deadline, head_only

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection is out of step
            self.abort()
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail("protocol", "server switched protocols (upgrade), which is not supported")
        except httptools.HttpParserError as exc:
            self.fail("protocol", f"malformed HTTP response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.pool.idle_lost(self)
            return
        self.waiter = None
        if exc is None and self.headers_done and not self.framed:
            waiter.set_result(self._response())  # an unframed body ends where the stream does
        elif not self.got_bytes and self.reused:
            waiter.set_exception(StaleConnection("reset", "keep-alive connection closed"))
        elif exc is None:
            waiter.set_exception(TransportError("reset", "server closed the connection early"))
        else:
            waiter.set_exception(TransportError(os_error_kind(exc), f"connection lost: {exc}"))

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
        waiter = self.waiter
        if waiter is None:
            return
        self.waiter = None
        self.keep_alive = keep_alive
        if not waiter.done():
            waiter.set_result(self._response())

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
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(TransportError(kind, message))
        self.abort()

    def abort(self) -> None:
        self.transport.abort()

    def alive(self) -> bool:
        return not self.transport.is_closing()
