"""Purpose-built loopback HTTP/1.1 servers that misbehave on cue, for transport, engine and
mock tests.

Each server runs its own asyncio loop in a background thread, so a plain synchronous test
uses it as a context manager and drives its client with `asyncio.run` (any loop, uvloop
included):

    with responder(Reply(status=200, body=b"ok")) as server:
        asyncio.run(client_against(server.url))
        assert server.connections_accepted == 1

Servers bind 127.0.0.1 on an ephemeral port and count what they see (connections
accepted, requests with their exact method, path, headers and body) so tests can prove
keep-alive reuse and what went on the wire. A behaviour is an async handler that answers
one parsed request; the factories below cover the common faults:

| factory | behaviour |
|---|---|
| `responder(reply)` | answers every request with `reply` (or `reply(request)`) |
| `rate_limited(retry_after)` | 429 with a Retry-After header |
| `server_error(status)` | a 5xx |
| `reset_mid_response(rst=True)` | headers and part of the body, then RST (or FIN) |
| `stall()` | reads requests and never answers |
| `slow_body(total_s, pieces)` | headers at once, the body trickled over `total_s` |
| `keepalive_closer(serve_per_connection)` | serves N requests per connection, then closes |
|  | it as the next request arrives, unanswered (the keep-alive race; N=0: never answers) |

`FaultServer(..., idle_close_s=x)` also closes connections idle for x seconds, and
`tls=self_signed_identity()` serves TLS with a certificate made at test time.
"""

from __future__ import annotations

import asyncio
import http
import socket
import ssl
import struct
import tempfile
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httptools

from loadgen.mock.tls import self_signed_pem

HOST = "127.0.0.1"
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the server parsed it off the wire."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]  # in order, names as sent
    body: bytes
    connection: int  # 1-based number of the connection it arrived on
    index: int  # 0-based position among that connection's requests

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)


@dataclass(frozen=True, slots=True)
class Reply:
    """A response to send; Content-Length framing unless `chunked`."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b'{"status":1}'
    chunked: bool = False
    close: bool = False  # send `Connection: close`, then close the connection
    delay_s: float = 0.0  # wait this long before answering (server latency)

    def encode(self, *, head: bool = False) -> bytes:
        """The response bytes; `head` leaves the body out (the answer to a HEAD request)."""
        reason = http.HTTPStatus(self.status).phrase if self.status in _KNOWN else "Unknown"
        lines = [f"HTTP/1.1 {self.status} {reason}", *(f"{k}: {v}" for k, v in self.headers)]
        lines.append(
            "Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {len(self.body)}"
        )
        if self.close:
            lines.append("Connection: close")
        start = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head:
            return start
        if not self.chunked:
            return start + self.body
        half = len(self.body) // 2  # two chunks, so the client really reassembles them
        parts = [p for p in (self.body[:half], self.body[half:]) if p]
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
        return start + chunks + b"0\r\n\r\n"


_KNOWN = {s.value for s in http.HTTPStatus}


class Channel:
    """A handler's handle on its connection."""

    def __init__(self, writer: asyncio.StreamWriter, stopping: asyncio.Event) -> None:
        self.writer = writer
        self.stopping = stopping  # set when the server shuts down

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """Close with a TCP RST (what a crashed or overloaded server does)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        self.writer.transport.abort()


# A behaviour: answer one request; return True to keep the connection open for the next.
Handler = Callable[[SeenRequest, Channel], Awaitable[bool]]


class _Collector:
    """httptools callbacks that assemble complete requests."""

    def __init__(self, connection: int) -> None:
        self.connection, self.count = connection, 0
        self.done: deque[SeenRequest] = deque()
        self._url, self._body = b"", b""
        self._headers: list[tuple[str, str]] = []
        self.parser = httptools.HttpRequestParser(self)

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        path = self._url.decode("latin-1")
        request = SeenRequest(
            method, path, tuple(self._headers), self._body, self.connection, self.count
        )
        self.done.append(request)
        self.count += 1
        self._url, self._body, self._headers = b"", b"", []


class FaultServer:
    """A loopback server running `handler` on its own loop thread; a context manager."""

    def __init__(
        self,
        handler: Handler,
        *,
        tls: TlsIdentity | None = None,
        idle_close_s: float | None = None,
    ) -> None:
        self._handler, self._tls, self._idle_close_s = handler, tls, idle_close_s
        self._lock = threading.Lock()
        self._requests: list[SeenRequest] = []
        self._sni: list[str | None] = []
        self._errors: list[str] = []
        self._connections = 0
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._start_error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{HOST}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        return self._connections

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def requests_seen(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def sni_names(self) -> list[str | None]:
        """Server names clients sent in TLS handshakes (None: no SNI, e.g. an IP URL)."""
        with self._lock:
            return list(self._sni)

    @property
    def errors(self) -> list[str]:
        """Exceptions the server loop reported (failed TLS handshakes, for instance)."""
        with self._lock:
            return list(self._errors)

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault server did not start within 10 s")
        if self._start_error is not None:
            raise RuntimeError("fault server failed to start") from self._start_error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._record_error)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._start_error = exc
        finally:
            self._ready.set()
            loop.close()

    def _record_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        with self._lock:
            self._errors.append(str(context.get("exception") or context.get("message")))

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, HOST, 0, ssl=self._server_context())
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.close()
        await server.wait_closed()
        # Every task left on this loop, including a connection accepted just before the
        # close whose handler had not started yet: none may outlive the loop.
        others = asyncio.all_tasks() - {asyncio.current_task()}
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _server_context(self) -> ssl.SSLContext | None:
        if self._tls is None:
            return None
        context = self._tls.server_context()

        def remember(_: Any, name: str | None, __: Any) -> None:
            with self._lock:
                self._sni.append(name)

        context.sni_callback = remember
        return context

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        collector = _Collector(self._connections)
        channel = Channel(writer, self._stopping or asyncio.Event())
        try:
            while True:
                data = await asyncio.wait_for(reader.read(65536), self._idle_close_s)
                if not data:
                    return
                collector.parser.feed_data(data)
                while collector.done:
                    request = collector.done.popleft()
                    with self._lock:
                        self._requests.append(request)
                    if not await self._handler(request, channel):
                        return
        except (OSError, TimeoutError, httptools.HttpParserError):
            return  # the client went away, idled out or sent garbage: just close
        finally:
            if not writer.transport.is_closing():
                writer.close()


# behaviours


def responder(
    reply: Reply | Callable[[SeenRequest], Reply] = Reply(),
    *,
    tls: TlsIdentity | None = None,
    idle_close_s: float | None = None,
) -> FaultServer:
    """Answers every request with `reply` (or `reply(request)`)."""

    async def handle(request: SeenRequest, channel: Channel) -> bool:
        answer = reply(request) if callable(reply) else reply
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        await channel.send(answer.encode(head=request.method == "HEAD"))
        return not answer.close

    return FaultServer(handle, tls=tls, idle_close_s=idle_close_s)


def rate_limited(retry_after: str = "2") -> FaultServer:
    """429 Too Many Requests with `Retry-After: <retry_after>`."""
    return responder(Reply(429, (("Retry-After", retry_after),), b'{"error":"rate"}'))


def server_error(status: int = 503, body: bytes = b'{"error":"down"}') -> FaultServer:
    """A 5xx on every request (the connection stays open)."""
    return responder(Reply(status, body=body))


def reset_mid_response(*, rst: bool = True) -> FaultServer:
    """Sends the headers and 5 of 100 promised body bytes, then RST (`rst`) or a clean FIN."""

    async def handle(request: SeenRequest, channel: Channel) -> bool:
        await channel.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
        await asyncio.sleep(0.05)  # let the bytes reach the client before the reset
        if rst:
            channel.reset()
        return False

    return FaultServer(handle)


def stall() -> FaultServer:
    """Reads requests and never answers (until the server stops)."""

    async def handle(request: SeenRequest, channel: Channel) -> bool:
        await channel.stopping.wait()
        return False

    return FaultServer(handle)


def slow_body(total_s: float = 1.0, pieces: int = 10) -> FaultServer:
    """Headers at once, then a `pieces`-byte body one byte at a time over `total_s`."""

    async def handle(request: SeenRequest, channel: Channel) -> bool:
        await channel.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % pieces)
        for _ in range(pieces):
            await asyncio.sleep(total_s / pieces)
            await channel.send(b"x")
        return True

    return FaultServer(handle)


def keepalive_closer(serve_per_connection: int = 1) -> FaultServer:
    """Serves N requests per connection, then closes it when the next one arrives.

    The client sees a reused connection closed before any response byte: the race every
    client meets when a server's keep-alive timeout fires just as a request is sent.
    With N=0 no request is ever answered (a fresh connection closed unanswered).
    """

    async def handle(request: SeenRequest, channel: Channel) -> bool:
        if request.index >= serve_per_connection:
            return False
        await channel.send(Reply().encode())
        return True

    return FaultServer(handle)


# TLS


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """A certificate and its key, PEM-encoded; made at test time, never stored."""

    cert_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain only reads files
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate (and verifies host names)."""
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))


def self_signed_identity(
    names: tuple[str, ...] = ("localhost",), addresses: tuple[str, ...] = (HOST, "::1")
) -> TlsIdentity:
    """A self-signed P-256 certificate for `names` and `addresses`, valid for a day."""
    cert_pem, key_pem = self_signed_pem(names, addresses, days=1)
    return TlsIdentity(cert_pem=cert_pem, key_pem=key_pem)
