"""Where requests go: the origin (scheme, host, port, base path) an http(s) URL names,
read strictly, with any credentials in the URL masked in the messages.

Here rather than in `transport/` because the targets reader checks a URL with it when the
file is read (a bad port is an input error with its line), and inputs import no transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from loadgen.inputs.redact import redact_url

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
