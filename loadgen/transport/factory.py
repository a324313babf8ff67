"""Pick and build the transport a target asks for.

`auto` always means the fast transport: it speaks http and https and is the only one
that keeps up with real rates. httpx is used only when asked for by name, and never for a
run whose peak rate exceeds `HTTPX_MAX_RPS`: past that it would become the bottleneck and
the run would measure loadgen instead of the target.
"""

from __future__ import annotations

from typing import Literal

from loadgen.inputs.origin import parse_origin
from loadgen.transport.contract import Transport
from loadgen.transport.fast import FastTransport

TransportChoice = Literal["auto", "fast", "httpx"]

# httpx tops out near 140–200 req/s with 64 connections on one core, depending on the
# machine (the README's figure; httpx_transport.py says where its CPU goes); 100 leaves
# headroom so the client never shapes the rate.
HTTPX_MAX_RPS = 100.0


def make_transport(
    url: str,
    kind: TransportChoice,
    *,
    max_connections: int,
    timeout_s: float,
    verify_tls: bool = True,
    peak_rps: float | None = None,
) -> Transport:
    """A transport for `url`; `ValueError` for an unusable scheme, kind or rate."""
    parse_origin(url)  # rejects non-http(s) URLs with a clear message
    if kind in ("auto", "fast"):
        return FastTransport(
            url, max_connections=max_connections, timeout_s=timeout_s, verify_tls=verify_tls
        )
    if kind != "httpx":
        raise ValueError(f"unknown transport {kind!r}: use 'auto', 'fast' or 'httpx'")
    if peak_rps is not None and peak_rps > HTTPX_MAX_RPS:
        raise ValueError(
            f"transport 'httpx' cannot drive {peak_rps:g} req/s (it tops out near 200 req/s; "
            f'loadgen allows it up to {HTTPX_MAX_RPS:g}): set transport = "fast" (or "auto") '
            "for this target, or lower the profile's peak rate"
        )
    # httpx (~10-25 ms to import) only when a target asks for it: a run on the fast
    # transport, the default, never loads it.
    from loadgen.transport.httpx_transport import HttpxTransport

    return HttpxTransport(
        url, max_connections=max_connections, timeout_s=timeout_s, verify_tls=verify_tls
    )
