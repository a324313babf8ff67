"""Table and property tests for the transports' pure parts: Retry-After, URLs, request
heads, error kinds, the factory and the package face. Socket behaviour is in
test_transport_conformance.py."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.transport import (
    USER_AGENT,
    ErrorKind,
    Origin,
    RequestSpec,
    TransportError,
    parse_origin,
)
from loadgen.transport.factory import HTTPX_MAX_RPS, make_transport
from loadgen.transport.fast import FastTransport
from loadgen.transport.httpx_transport import HttpxTransport, describe, httpx_error_kind
from loadgen.transport.retry_after import parse_retry_after
from loadgen.transport.socket_layer import os_error_kind
from loadgen.transport.wire import encode_head

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),  # delta-seconds, the common form
        (b"0", 0.0),  # bytes straight from the parser; zero means "now"
        ("  5 ", 5.0),  # surrounding whitespace is not significant
        ("1.5", 1.5),  # not RFC, but sent by some APIs and harmless to honour
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),  # IMF-fixdate, 30 s ahead
        ("Wednesday, 01-May-24 12:01:00 GMT", 60.0),  # obsolete RFC 850 date
        ("Wed May  1 12:00:10 2024", 10.0),  # obsolete asctime date (GMT implied)
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # a past date: retry now, never negative
        ("", None),  # empty header
        ("-5", None),  # negative delta is invalid
        ("soon", None),  # garbage is ignored, not guessed
        ("1e3", None),  # exponent notation is not delta-seconds
        ("Wed, 32 May 2024 12:00:00 GMT", None),  # impossible date
        ("nan", None),  # float() would accept it; the header must not
    ],
)
def test_parse_retry_after(value: str | bytes, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@given(st.integers(min_value=0, max_value=10**9))
def test_retry_after_delta_round_trips(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)


@given(st.integers(min_value=0, max_value=10**7))
def test_retry_after_date_is_seconds_from_now(ahead: int) -> None:
    date = format_datetime(datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=ahead), True)
    assert parse_retry_after(date, now=NOW) == float(ahead)


@given(st.text(max_size=40))
def test_retry_after_never_raises_and_never_goes_negative(text: str) -> None:
    result = parse_retry_after(text, now=NOW)
    assert result is None or result >= 0.0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", Origin("http", "127.0.0.1", 8080, "")),
        ("HTTPS://Example.com", Origin("https", "example.com", 443, "")),  # case-insensitive
        ("http://h/base/", Origin("http", "h", 80, "/base")),  # prefix without trailing /
        ("http://[::1]:9000/", Origin("http", "::1", 9000, "")),  # IPv6 literal
    ],
)
def test_parse_origin(url: str, expected: Origin) -> None:
    assert parse_origin(url) == expected


@pytest.mark.parametrize(
    ("origin", "host_header"),
    [
        (Origin("http", "h", 80, ""), "h"),  # default port is left out
        (Origin("https", "h", 443, ""), "h"),
        (Origin("https", "h", 80, ""), "h:80"),  # 80 is not https's default
        (Origin("http", "::1", 8080, ""), "[::1]:8080"),  # IPv6 needs brackets
    ],
)
def test_host_header(origin: Origin, host_header: str) -> None:
    assert origin.host_header == host_header


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://h/", "scheme"),  # not HTTP
        ("h:80", "scheme"),  # no scheme at all parses as scheme "h"
        ("http:///path", "no host"),
        ("http://h:70000", "invalid URL"),  # port out of range
        ("http://h/?q=1", "query"),  # a query belongs to each request's path
    ],
)
def test_parse_origin_rejects(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_origin(url)


ORIGIN = Origin("http", "127.0.0.1", 8000, "")


@pytest.mark.parametrize(
    ("origin", "request_", "expected"),
    [
        (  # the usual capture request: headers in order, our User-Agent added
            ORIGIN,
            RequestSpec("POST", "/e/", (("Content-Type", "application/json"),)),
            "POST /e/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
            f"User-Agent: {USER_AGENT}\r\nContent-Length: ",
        ),
        (  # a caller's own User-Agent wins; the base path is prefixed
            Origin("https", "api.test", 443, "/v2"),
            RequestSpec("GET", "/x?a=1", (("user-agent", "sdk/1"),)),
            "GET /v2/x?a=1 HTTP/1.1\r\nHost: api.test\r\nuser-agent: sdk/1\r\nContent-Length: ",
        ),
        (  # non-ASCII and spaces in a path are percent-encoded, reserved characters kept
            ORIGIN,
            RequestSpec("PUT", "/customers/zoë smith?x=1&y=2", (("User-Agent", "t"),)),
            "PUT /customers/zo%C3%AB%20smith?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
            "User-Agent: t\r\nContent-Length: ",
        ),
    ],
)
def test_encode_head(origin: Origin, request_: RequestSpec, expected: str) -> None:
    assert encode_head(origin, request_) == expected.encode("latin-1")


@pytest.mark.parametrize(
    "request_",
    [
        RequestSpec("GE T", "/", ()),  # a space in the method would shift the request line
        RequestSpec("GET", "e/", ()),  # not an origin-form path
        RequestSpec("GET", "/", (("X", "a\nb"),)),  # LF would start a new header
        RequestSpec("GET", "/", (("X", "a\x00"),)),  # NUL is never valid
        RequestSpec("GET", "/", (("Host", "evil"),)),  # Host comes from the URL
        RequestSpec("GET", "/", (("transfer-encoding", "chunked"),)),  # framing is ours
        RequestSpec("GET", "/", (("X", "☃"),)),  # header values are Latin-1 on the wire
    ],
)
def test_encode_head_refuses_unsafe_requests(request_: RequestSpec) -> None:
    with pytest.raises(TransportError) as info:
        encode_head(ORIGIN, request_)
    assert info.value.kind == "other"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (socket.gaierror(-2, "Name or service not known"), "dns"),  # before its OSError base
        (ssl.SSLCertVerificationError("verify failed"), "tls"),
        (ssl.SSLError("handshake"), "tls"),
        (ConnectionRefusedError(111, "refused"), "refused"),
        (ConnectionResetError(104, "reset"), "reset"),
        (BrokenPipeError(32, "pipe"), "reset"),  # writing to a connection the peer closed
        (TimeoutError(), "timeout"),
        (OSError(101, "Network is unreachable"), "other"),
        (ValueError("x"), "other"),
    ],
)
def test_os_error_kind(exc: BaseException, kind: ErrorKind) -> None:
    assert os_error_kind(exc) == kind


def _caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("t"), "timeout"),
        (httpx.PoolTimeout("t"), "timeout"),  # waiting for a connection counts too
        (  # anyio wraps the refusal in a generic OSError; the cause decides
            httpx.ConnectError("All connection attempts failed"),
            "other",
        ),
        (
            _caused(
                httpx.ConnectError("All connection attempts failed"),
                _caused(OSError("All connection attempts failed"), ConnectionRefusedError()),
            ),
            "refused",
        ),
        (  # several addresses failed: anyio groups them
            _caused(
                httpx.ConnectError("x"),
                ExceptionGroup("multiple", [socket.gaierror(-2, "unknown name")]),
            ),
            "dns",
        ),
        (_caused(httpx.ConnectError("x"), ssl.SSLCertVerificationError("bad")), "tls"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "reset"),
        (httpx.RemoteProtocolError("peer closed connection without sending complete"), "reset"),
        (httpx.RemoteProtocolError("illegal status line: b'garbage'"), "protocol"),
        (httpx.DecodingError("bad gzip"), "protocol"),
        (httpx.ReadError(""), "reset"),  # a failed read with no OS cause: the peer went away
        (httpx.UnsupportedProtocol("x"), "other"),
    ],
)
def test_httpx_error_kind(exc: BaseException, kind: ErrorKind) -> None:
    assert httpx_error_kind(exc) == kind


def test_describe_takes_the_message_from_the_cause() -> None:
    exc = _caused(httpx.ReadError(""), ConnectionResetError(104, "Connection reset by peer"))
    assert describe(exc) == "ReadError: [Errno 104] Connection reset by peer"


# factory


@pytest.mark.parametrize(
    ("kind", "peak", "expected"),
    [
        ("auto", None, FastTransport),  # auto always means fast
        ("auto", 1e6, FastTransport),  # at any rate
        ("fast", 10.0, FastTransport),
        ("httpx", None, HttpxTransport),  # no known rate: the user asked for it
        ("httpx", HTTPX_MAX_RPS, HttpxTransport),  # the limit itself is allowed
    ],
)
def test_factory_picks_the_transport(kind: Any, peak: float | None, expected: type) -> None:
    transport = make_transport(
        "https://127.0.0.1:1", kind, max_connections=4, timeout_s=1.0, peak_rps=peak
    )
    asyncio.run(transport.aclose())
    assert type(transport) is expected


def test_factory_refuses_httpx_above_its_ceiling() -> None:
    with pytest.raises(ValueError, match="fast"):
        make_transport(
            "http://127.0.0.1:1", "httpx", max_connections=4, timeout_s=1.0, peak_rps=151.0
        )


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "ws://127.0.0.1:80", "127.0.0.1:8000", "http://", "http://h:99999"],
)
def test_factory_rejects_unusable_urls(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        make_transport(url, "auto", max_connections=1, timeout_s=1.0)


def test_http2_without_h2_says_how_to_install_it() -> None:
    with pytest.raises(ValueError, match=r"pip install httpx\[http2\]"):
        HttpxTransport("https://127.0.0.1:1", http2=True)


# -- the package face --------------------------------------------------------------------


def test_the_face_names_what_it_exports() -> None:
    import loadgen.transport as face

    missing = [name for name in face.__all__ if not hasattr(face, name)]
    assert missing == []
    assert face.make_transport is make_transport
    assert face.HTTPX_MAX_RPS == HTTPX_MAX_RPS
    assert face.parse_origin is parse_origin
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        face.Nope  # noqa: B018 - the attribute access is the test


def test_the_face_leaves_the_clients_and_asyncio_unloaded() -> None:
    # lint and the profile reader import the contract; they must not pay for the clients
    probe = (
        "import sys, loadgen.transport;"
        "print(sorted(m for m in ('asyncio', 'httpx', 'httptools', 'loadgen.transport.factory',"
        " 'loadgen.transport.task_submitter') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.strip() == "[]"
