"""What both transports do at the socket level: the client TLS context, and the error kind
of a socket-level exception."""

from __future__ import annotations

import socket
import ssl

from loadgen.transport.contract import ErrorKind


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
