"""The values passed between the HTTP layer, the API validators and the counters."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import orjson

Api = Literal["posthog", "customerio", "segment", "admin"]


@dataclass(slots=True)
class Request:
    """One parsed HTTP request; `headers` holds only the few the mock reads, lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Event:
    """One accepted event, reduced to what the counters need.

    `identifies`: ids this event makes known (an identify, or an alias's new id).
    `requires`: the id an alias/merge depends on having been identified earlier.
    `event_id`: the id a server deduplicates on (PostHog uuid, Segment messageId).
    """

    op: str
    name: str | None
    distinct_id: str | None
    identifies: tuple[str, ...] = ()
    requires: str | None = None
    event_id: str | None = None


@dataclass(slots=True)
class Verdict:
    """A validator's answer: the response, whose quota it spends, and what it accepted.

    `workspace` is set once the credentials passed (it is the rate-limit key); `events`
    are counted only if the final status is 2xx; `rejected` counts events refused inside
    an otherwise accepted request (Customer.io v2 batch 207).
    """

    status: int
    body: bytes
    workspace: str | None = None
    events: list[Event] = field(default_factory=list)
    historical: bool = False
    rejected: int = 0
    headers: tuple[tuple[str, str], ...] = ()


class Rejection(Exception):
    """Raised inside a validator to answer `status` with an API-specific error message."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "invalid_payload",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.retry_after = retry_after


@dataclass(slots=True)
class Context:
    """What a validator needs besides the request: the key rules and the rate limiter.

    `limiter(workspace)` returns 0.0 to admit a request, else the seconds to wait.
    `accepted_keys` empty means any well-formed credential is accepted.
    """

    accepted_keys: frozenset[str]
    limiter: Callable[[str], float]
    workspace: str | None = None

    def check_key(self, key: str, what: str) -> None:
        if self.accepted_keys and key not in self.accepted_keys:
            raise Rejection(401, f"{what} is not accepted by this mock", "invalid_credentials")

    def admit(self, workspace: str) -> None:
        """Charge the workspace's rate limit; raise a 429 Rejection when it is exhausted."""
        self.workspace = workspace
        wait = self.limiter(workspace)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise Rejection(429, "rate limit exceeded", "rate_limited", retry_after=retry)


def json_bytes(value: object) -> bytes:
    return orjson.dumps(value)
