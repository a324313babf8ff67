"""The transport: sends prepared requests to one origin, awaited or with a callback.

This face is what the rest of loadgen imports. The contract (`Transport`, `RequestSpec`,
`Response`, `TransportError`, the error kinds) and `parse_origin` load with it: they are
light (no asyncio), and scenarios and targets need them even for `loadgen lint`.
`make_transport` (and with it both clients, asyncio, httptools and httpx) and
`TaskSubmitter` load on first use only, so commands that never send a request do not pay
for them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from loadgen import load_on_use
from loadgen.inputs.origin import Origin, parse_origin
from loadgen.transport.contract import (
    ERROR_KINDS,
    MAX_BODY_BYTES,
    USER_AGENT,
    ErrorKind,
    OnDone,
    Outcome,
    RequestSpec,
    Response,
    Transport,
    TransportError,
)

if TYPE_CHECKING:
    from loadgen.transport.factory import HTTPX_MAX_RPS, TransportChoice, make_transport
    from loadgen.transport.task_submitter import TaskSubmitter

__all__ = [
    "ERROR_KINDS",
    "HTTPX_MAX_RPS",
    "MAX_BODY_BYTES",
    "USER_AGENT",
    "ErrorKind",
    "OnDone",
    "Origin",
    "Outcome",
    "RequestSpec",
    "Response",
    "TaskSubmitter",
    "Transport",
    "TransportChoice",
    "TransportError",
    "make_transport",
    "parse_origin",
]

_LOADED_ON_USE = MappingProxyType(
    {
        "HTTPX_MAX_RPS": "factory",
        "TransportChoice": "factory",
        "make_transport": "factory",
        "TaskSubmitter": "task_submitter",
    }
)


def __getattr__(name: str) -> object:
    return load_on_use(__name__, _LOADED_ON_USE, name)
