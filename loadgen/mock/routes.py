"""The mock's route table: which API and operation a method + path is, and its body limit.

Looked up once per request as soon as the headers are in, so an oversize body is refused
from its Content-Length before a byte of it is buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.mock import customerio, posthog, segment
from loadgen.mock.model import Api

ADMIN_LIMIT = 64 * 1024
ADMIN_PREFIX = "/_loadgen/"
_CUSTOMERS = "/api/v1/customers/"


@dataclass(frozen=True, slots=True)
class Route:
    """`limit` caps the body on the wire (and once decompressed); over it, `too_large`."""

    api: Api
    kind: str
    methods: tuple[str, ...]
    limit: int
    too_large: int = 413


def _table() -> dict[str, Route]:
    table: dict[str, Route] = {}
    for path in ("/i/v0/e", "/e", "/capture", "/track", "/batch"):
        kind = "batch" if path == "/batch" else "single"
        route = Route("posthog", kind, ("POST",), posthog.body_limit(kind))
        table[path] = table[path + "/"] = route
    for path, kind in (
        ("/api/v1/events", "anonymous"),
        ("/api/v1/merge_customers", "merge"),
        ("/api/v2/entity", "v2_entity"),
        ("/api/v2/batch", "v2_batch"),
    ):
        table[path] = Route("customerio", kind, ("POST",), customerio.body_limit(kind))
    for kind in (*segment.TYPES, "batch"):
        table[f"/v1/{kind}"] = Route("segment", kind, ("POST",), segment.body_limit(kind), 400)
    for path, methods in (
        ("stats", ("GET", "DELETE")),
        ("reset", ("POST",)),
        ("faults", ("GET", "POST")),
        ("health", ("GET",)),
    ):
        table[ADMIN_PREFIX + path] = Route("admin", path, methods, ADMIN_LIMIT)
    return table


ROUTES = _table()
_CIO_IDENTIFY = Route("customerio", "identify", ("PUT", "DELETE"), customerio.V1_LIMIT)
_CIO_TRACK = Route("customerio", "track", ("POST",), customerio.V1_LIMIT)


def resolve(path: str) -> tuple[Route | None, str]:
    """(route, customer id) for a path without its query; (None, "") when nothing matches."""
    route = ROUTES.get(path)
    if route is not None:
        return route, ""
    if path.startswith(_CUSTOMERS):
        rest = path[len(_CUSTOMERS) :]
        if rest.endswith("/events") and "/" not in rest[:-7]:
            return _CIO_TRACK, rest[:-7]
        if rest and "/" not in rest:
            return _CIO_IDENTIFY, rest
    return None, ""
