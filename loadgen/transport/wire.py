"""HTTP/1.1 request heads as bytes, built once per distinct (method, path, headers).

The head ends with `Content-Length: ` so a request is one join: head, length, CRLFCRLF,
body. Requests are checked here, once per distinct head, instead of on every send: a
header that could split the request (CR, LF, NUL) or that the transport owns (Host,
Content-Length, Transfer-Encoding) is refused with `TransportError("other")`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from loadgen.inputs.origin import Origin
from loadgen.transport.contract import USER_AGENT, RequestSpec, TransportError

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 tchar
_BAD_VALUE = re.compile(r"[\r\n\x00]")
_PATH_SAFE = "!$&'()*+,/:;=?@[]~%"  # kept as sent; everything else non-ASCII is escaped
_TRANSPORT_OWNED = frozenset({"host", "content-length", "transfer-encoding"})
HEAD_CACHE_LIMIT = 4096  # distinct heads remembered; per-user paths would grow it forever


def encode_head(origin: Origin, request: RequestSpec) -> bytes:
    """The request line and headers up to and including `Content-Length: `."""
    method = request.method
    if not _TOKEN.fullmatch(method):
        raise TransportError("other", f"invalid HTTP method {method!r}")
    lines = [f"{method} {_request_target(origin, request.path)} HTTP/1.1"]
    lines.append(f"Host: {origin.host_header}")
    has_agent = False
    for name, value in request.headers:
        lower = name.lower()
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise TransportError("other", f"invalid header {name!r}: {value!r}")
        if lower in _TRANSPORT_OWNED:
            raise TransportError(
                "other", f"header {name!r} is set by the transport, not by requests"
            )
        has_agent = has_agent or lower == "user-agent"
        lines.append(f"{name}: {value}")
    if not has_agent:
        lines.append(f"User-Agent: {USER_AGENT}")
    lines.append("Content-Length: ")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise TransportError("other", f"header not encodable as Latin-1: {exc}") from exc


def _request_target(origin: Origin, path: str) -> str:
    if not path.startswith("/"):
        raise TransportError("other", f"request path must start with '/': {path!r}")
    target = origin.base_path + path
    if target.isascii() and target.isprintable() and " " not in target:
        return target
    return quote(target, safe=_PATH_SAFE)  # what a browser sends for the same path
