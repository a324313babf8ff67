"""The mock's HTTP/1.1 server: an asyncio Protocol driving httptools, fast on uvloop.

Keep-alive and pipelining are safe: responses leave in request order, a delayed one (an
injected latency or stall) holding back the ones behind it. Limits that protect the
server: header bytes (431, URL 414), body bytes per route checked from Content-Length
before buffering (never more than the limit is held), one deadline for a whole request
(`header_timeout`, 408 then close: slowloris), one for an idle keep-alive connection,
and reading pauses while a client does not read its responses.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import deque
from typing import cast

import httptools

from loadgen.mock.app import MockApp, Reply
from loadgen.mock.config import MockConfig
from loadgen.mock.model import Request
from loadgen.mock.routes import Route, resolve

LINGER_S = 2.0  # how long a refused upload is drained before the connection closes
MAX_PENDING = 256  # queued responses per connection before reading pauses
UNKNOWN_ROUTE_LIMIT = 64 * 1024
_KEPT_HEADERS = {
    b"content-length": "content-length",
    b"content-encoding": "content-encoding",
    b"content-type": "content-type",
    b"authorization": "authorization",
    b"expect": "expect",
}
_LINGER_RST = struct.pack("ii", 1, 0)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Abort(Exception):
    """Stops the parser from inside a callback; the reply is already queued."""


class ServerState:
    """What every connection shares: the app, the limits and the set of live connections."""

    def __init__(self, app: MockApp, config: MockConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.app, self.config, self.loop = app, config, loop
        self.connections: set[HttpConnection] = set()

    async def sweep(self) -> None:
        """Close connections past their request or idle deadline (a few checks a second)."""
        period = min(0.5, self.config.header_timeout / 4)
        while True:
            await asyncio.sleep(period)
            now = self.loop.time()
            for conn in list(self.connections):
                conn.check_deadline(now)


class HttpConnection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, state: ServerState) -> None:
        self._state, self._app, self._loop = state, state.app, state.loop
        self._stats = state.app.stats
        self._cfg = state.config
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._queue: deque[tuple[float, Reply]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closing = self._reading_paused = self._write_paused = False
        self.in_message = self._completed_here = False
        self.deadline = 0.0
        self._new_message()

    def _new_message(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = self._raw_header_bytes = self._body_len = 0
        self._headers_done = False
        self._body: list[bytes] = []
        self._route: Route | None = None
        self._customer_id = self._method = self._path = self._query = ""
        self._limit = UNKNOWN_ROUTE_LIMIT

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._state.connections.add(self)
        self._stats.connections_open += 1
        self._stats.connections_total += 1
        self.deadline = self._loop.time() + self._cfg.header_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self._state.connections.discard(self)
        self._stats.connections_open -= 1
        self._closing = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._stats.bytes_in += len(data)
        in_headers = self.in_message and not self._headers_done
        self._completed_here = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Abort):
                self._fail(500, "internal error in the loadgen mock")
            return
        except httptools.HttpParserUpgrade:
            # The request itself was answered; what follows is not HTTP: hang up after it.
            self._emit(Reply("other", 0, b"", close=True))
            return
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")
            return
        if self.in_message and not self._headers_done and (in_headers or not self._completed_here):
            # Bytes of a header still being parsed sit inside httptools: bound them too. A
            # message that began in this chunk after another one ended is exempt for this
            # chunk (its share is unknown; a chunk is at most 256 KiB).
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self._cfg.max_header_bytes:
                self._fail(431, "request header fields too large")

    def pause_writing(self) -> None:
        self._write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._maybe_resume_reading()

    # -- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._closing:
            raise _Abort
        self.in_message = True
        self.deadline = self._loop.time() + self._cfg.header_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._cfg.max_header_bytes:
            self._abort(None, 414, "URI too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self._cfg.max_header_bytes:
            self._abort(None, 431, "request header fields too large")
        key = _KEPT_HEADERS.get(name.lower())
        if key is not None:
            self._headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._method = self._parser.get_method().decode("ascii", "replace")
        url = self._url
        if not url.startswith(b"/"):
            parsed = httptools.parse_url(url)  # absolute-form, as sent to proxies
            url = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
        path, _, query = url.partition(b"?")
        self._path = path.decode("latin-1")
        self._query = query.decode("latin-1")
        self._route, self._customer_id = resolve(self._path)
        if self._route is not None:
            self._limit = self._route.limit
        too_large = self._route.too_large if self._route is not None else 413
        length = self._headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self._limit:
            self._abort(self._route, too_large, f"request body exceeds {self._limit} bytes")
        if self._headers.get("expect", "").lower() == "100-continue" and not self._queue:
            self._write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_len += len(body)
        if self._body_len > self._limit:
            too_large = self._route.too_large if self._route is not None else 413
            self._abort(self._route, too_large, f"request body exceeds {self._limit} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        req = Request(self._method, self._path, self._query, self._headers, body)
        keep_alive = self._parser.should_keep_alive()
        try:
            reply = self._app.handle(req, self._route, self._customer_id, keep_alive)
        except Exception:  # a bug must cost one request, never the server
            reply = self._app.plain(500, "internal error in the loadgen mock", False)
        self._new_message()
        self.in_message = False
        self._completed_here = True
        self.deadline = self._loop.time() + self._cfg.idle_timeout
        self._emit(reply)

    # -- replies -----------------------------------------------------------------------

    def _abort(self, route: Route | None, status: int, message: str) -> None:
        self._emit(self._app.early(route, status, message))
        raise _Abort

    def _fail(self, status: int, message: str) -> None:
        if not self._closing:
            self._emit(self._app.early(self._route, status, message))

    def _emit(self, reply: Reply) -> None:
        if reply.close or reply.reset:
            self._closing = True  # ignore whatever the client pipelined after this
        if not self._queue and reply.delay <= 0:
            self._send(reply)
            return
        ready = self._loop.time() + reply.delay
        if self._queue and self._queue[-1][0] > ready:
            ready = self._queue[-1][0]
        self._queue.append((ready, reply))
        if self._timer is None:
            self._timer = self._loop.call_at(self._queue[0][0], self._drain)
        if len(self._queue) >= MAX_PENDING:
            self._pause_reading()

    def _drain(self) -> None:
        self._timer = None
        horizon = self._loop.time() + 0.0005  # timers may fire a hair early
        while self._queue and self._queue[0][0] <= horizon:
            self._send(self._queue.popleft()[1])
            if self._transport is None or self._transport.is_closing():
                self._queue.clear()
                return
        if self._queue:
            self._timer = self._loop.call_at(self._queue[0][0], self._drain)
        else:
            if not self.in_message:  # idle from now, not from when the request came in
                self.deadline = max(self.deadline, horizon + self._cfg.idle_timeout)
            self._maybe_resume_reading()

    def _send(self, reply: Reply) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if reply.reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            transport.abort()
            return
        if reply.status:  # status 0: nothing to say, only the close below
            transport.write(reply.data)
            self._stats.response(reply.api, reply.status, len(reply.data))
        if reply.close and reply.linger:
            if transport.can_write_eof():
                transport.write_eof()  # FIN after the answer; what still arrives is dropped
            self.in_message = False
            self.deadline = self._loop.time() + LINGER_S
        elif reply.close:
            transport.close()

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            if not self._transport.is_closing():
                self._transport.pause_reading()
            self._reading_paused = True

    def _maybe_resume_reading(self) -> None:
        if self._reading_paused and not self._write_paused and len(self._queue) < MAX_PENDING:
            self._reading_paused = False
            if self._transport is not None and not self._transport.is_closing():
                self._transport.resume_reading()

    # -- timeouts and shutdown ---------------------------------------------------------

    def check_deadline(self, now: float) -> None:
        """Called by the sweeper: enforce the request and idle deadlines."""
        if self._transport is None or self._queue or now < self.deadline:
            return  # answers we still owe are our delay, not the client's
        if self.in_message and not self._closing:
            self._fail(408, "request not received in time")
        else:
            self._closing = True
            self._transport.close()

    @property
    def idle(self) -> bool:
        return not self._queue

    def close(self) -> None:
        if self._transport is not None:
            self._closing = True
            self._transport.close()
