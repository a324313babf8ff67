"""What both transports share: the origin a URL names, the TLS context and error kinds."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from loadgen import __version__
from loadgen.inputs.redact import redact_url
from loadgen.transport.base import ErrorKind

MAX_BODY_BYTES = 64 * 1024  # response bytes kept per request; the rest is read and dropped
USER_AGENT = f"loadgen/{__version__}"  # sent unless the request sets its own
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go. `base_path` ("" or "/prefix") is put before every request path."""

    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def parse_origin(url: str) -> Origin:
    """The origin of an http:// or https:// URL; `ValueError` saying what is wrong otherwise.

    The messages quote the URL with any credentials in it masked (they end up in artifacts).
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL {shown!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(
            f"unsupported URL scheme {parts.scheme!r} in {shown!r}: use an http:// or https:// URL"
        )
    if not parts.hostname:
        raise ValueError(f"URL {shown!r} has no host: write it as {scheme}://host[:port]")
    if parts.query or parts.fragment:
        raise ValueError(f"URL {shown!r} must not have a query or fragment: put those in the path")
    return Origin(
        scheme=scheme,
        host=parts.hostname,
        port=port or _DEFAULT_PORTS[scheme],
        base_path=parts.path.rstrip("/"),
    )


def client_ssl_context(verify_tls: bool, ssl_context: ssl.SSLContext | None) -> ssl.SSLContext:
    """`ssl_context` if given; else the system trust store, or no verification at all."""
    if ssl_context is not None:
        return ssl_context
    context = ssl.create_default_context()
    if not verify_tls:  # for self-signed test targets only; the target config says so
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def os_error_kind(exc: BaseException) -> ErrorKind:
    """The error kind of a socket-level exception (the order matters: subclasses first)."""
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError):  # includes certificate verification failures
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "other"
