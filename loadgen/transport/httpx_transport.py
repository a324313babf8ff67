"""The httpx transport: `httpx.AsyncClient` behind the same contract as the fast transport.

Use it for what the fast transport lacks (HTTP/2 with `http2=True`, httpx's proxy-free
TLS stack as a cross-check), never for rate. Its ceiling, measured on one core of the
2-core reference VM against nginx on loopback: about 200 req/s with 64 connections and
about 600 req/s over one connection (httpcore's pool and anyio streams cost ~1-4 ms of
CPU per request). `factory.HTTPX_MAX_RPS` keeps it away from rates it cannot drive.

Same semantics as `fast.py`: `timeout_s` bounds the whole request (an httpx read timeout
alone would let a trickling body run forever), bodies are kept up to 64 KiB, errors
become `TransportError` kinds, and a request that fails on a reused keep-alive connection
before any response byte is retried once (httpcore picks the connection for the retry; it
drops idle connections it can see were closed, so with one connection it is a new one).
Environment proxies are ignored (`trust_env=False`): traffic goes to the target only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
from typing import Any

import httpx

from loadgen.inputs.origin import parse_origin
from loadgen.transport.contract import (
    MAX_BODY_BYTES,
    USER_AGENT,
    ErrorKind,
    OnDone,
    RequestSpec,
    Response,
    TransportError,
)
from loadgen.transport.retry_after import parse_retry_after
from loadgen.transport.socket_layer import client_ssl_context, os_error_kind
from loadgen.transport.task_submitter import TaskSubmitter
from loadgen.transport.wire import HEAD_CACHE_LIMIT, encode_head

_NO_RESPONSE = "without sending a response"  # httpcore: closed before any response byte


class HttpxTransport:
    """`httpx.AsyncClient` for one origin; see the module docstring for its ceiling."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 64,
        timeout_s: float = 10.0,
        verify_tls: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        http2: bool = False,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if http2 and importlib.util.find_spec("h2") is None:
            raise ValueError("http2=True needs the h2 package: pip install httpx[http2]")
        self._origin = parse_origin(url)
        self._prefix = f"{self._origin.scheme}://{self._origin.host_header}{self._origin.base_path}"
        self._timeout_s = timeout_s
        verify: ssl.SSLContext | bool = (
            client_ssl_context(verify_tls, ssl_context) if self._origin.tls else False
        )
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            timeout=httpx.Timeout(timeout_s),
            verify=verify,
            http2=http2,
            follow_redirects=False,
            trust_env=False,
        )
        del self._client.headers["accept-encoding"]  # bodies as sent, like the fast transport
        self._client.headers["user-agent"] = USER_AGENT
        self._checked: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        self._closed = False
        self._tasks = TaskSubmitter(self.send)

    async def send(self, request: RequestSpec) -> Response:
        if self._closed:
            raise TransportError("closed", "transport is closed")
        self._check(request)
        try:
            async with asyncio.timeout(self._timeout_s):
                try:
                    return await self._attempt(request, allow_retry=True)
                except _Stale:
                    return await self._attempt(request, allow_retry=False)
        except TimeoutError:
            raise TransportError("timeout", f"no response within {self._timeout_s:g}s") from None

    def submit(self, request: RequestSpec, on_done: OnDone) -> None:
        self._tasks.submit(request, on_done)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._tasks.cancel()
            await self._client.aclose()

    def _check(self, request: RequestSpec) -> None:
        """The fast transport's request checks, so both refuse the same requests."""
        key = (request.method, request.path, request.headers)
        if key not in self._checked:
            encode_head(self._origin, request)
            if len(self._checked) >= HEAD_CACHE_LIMIT:
                self._checked.clear()
            self._checked.add(key)

    async def _attempt(self, request: RequestSpec, *, allow_retry: bool) -> Response:
        opened = False

        async def trace(event: str, info: dict[str, Any]) -> None:
            nonlocal opened
            if event == "connection.connect_tcp.started":
                opened = True

        try:
            return await self._exchange(request, trace)
        except httpx.HTTPError as exc:
            if self._closed:
                raise TransportError("closed", "transport closed during the request") from exc
            if allow_retry and not opened and _before_response(exc):
                raise _Stale("reset", describe(exc)) from exc
            raise TransportError(httpx_error_kind(exc), describe(exc)) from exc
        except (RuntimeError, ValueError, TypeError) as exc:  # httpx's own misuse errors
            if self._closed:  # "Cannot send a request, as the client has been closed."
                raise TransportError("closed", "transport closed during the request") from exc
            raise TransportError("other", describe(exc)) from exc

    async def _exchange(self, request: RequestSpec, trace: Any) -> Response:
        async with self._client.stream(
            request.method,
            self._prefix + request.path,
            headers=request.headers,
            content=request.body,
            extensions={"trace": trace},
        ) as response:
            body = b""
            async for chunk in response.aiter_bytes():
                if len(body) < MAX_BODY_BYTES:
                    body += chunk[: MAX_BODY_BYTES - len(body)]
            raw = response.headers.get("retry-after")
            delay = None if raw is None else parse_retry_after(raw)
            return Response(response.status_code, delay, body)


class _Stale(TransportError):
    """A reused connection closed before any response byte: safe to retry once."""


def _before_response(exc: httpx.HTTPError) -> bool:
    if isinstance(exc, httpx.RemoteProtocolError):
        return _NO_RESPONSE in str(exc)
    return isinstance(exc, httpx.WriteError)


def httpx_error_kind(exc: BaseException) -> ErrorKind:
    """Map an httpx exception to a kind; the OS or TLS error underneath decides when present."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc).lower()
        closed = "disconnected" in text or "closed" in text
        return "reset" if closed else "protocol"
    if isinstance(exc, httpx.DecodingError):
        return "protocol"
    kind = _cause_kind(exc)
    if kind != "other":
        return kind
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "reset"
    return "other"


def describe(exc: BaseException) -> str:
    """`Type: message`, taking the message from the cause when httpx leaves it empty."""
    for current in _causes(exc):
        if str(current):
            return f"{type(exc).__name__}: {current}"
    return type(exc).__name__


def _cause_kind(exc: BaseException) -> ErrorKind:
    """The first socket-level kind found down the cause chain (and exception groups)."""
    for current in _causes(exc):
        if isinstance(current, OSError):
            kind = os_error_kind(current)
            if kind != "other":
                return kind
    return "other"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, then its causes and contexts (and group members), breadth first, bounded."""
    found: list[BaseException] = []
    pending = [exc]
    while pending and len(found) < 32:
        current = pending.pop(0)
        if any(current is f for f in found):
            continue
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return found
