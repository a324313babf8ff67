"""The rules of each event API, one row per API (APIS.md): the one place they are written.

A row says which scenario kinds and API versions the API takes, the credentials it needs,
its payload limits, its per-field limits and the checks a scenario must pass. The profile
reader, targets, the payload builders (scenarios/), the guard's payload rule and the mock
all read this table, so adding an API means one row here, one builder (the registry in
`scenarios/scenario_set.py`) and one set of mock routes.

It sits on the ground floor, importing nothing from loadgen, because the mock may import
only from there. Payload limits are in decimal units (1 KB = 1,000 bytes), the smaller
reading, as the guard applies them; the mock keeps its own generous readings of sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple

Api = Literal["posthog", "customerio", "segment"]
Kind = Literal["identify", "track", "alias", "batch"]
KINDS: tuple[Kind, ...] = ("identify", "track", "alias", "batch")


@dataclass(frozen=True, slots=True)
class PayloadLimits:
    """The size limits of one endpoint family, in bytes (decimal reading)."""

    event_bytes: int  # one event, entity or message
    request_bytes: int  # one single-event request body
    batch_bytes: int  # one batch request body
    batch_events: int | None  # events per batch, where the API caps it
    source: str  # names the endpoint family in messages


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """Per-field limits of an API that caps fields one by one (Customer.io), in bytes."""

    id_bytes: int  # a customer id
    event_name_bytes: int
    attribute_value_bytes: int
    attributes: int  # attributes a person may carry


class ScenarioAsk(NamedTuple):
    """What a scenario asks of its API: the fields the checks look at."""

    kind: str
    api_version: str
    batch_size: int
    events: Sequence[str]
    historical: bool


Check = Callable[["ApiRules", ScenarioAsk], list[str]]


@dataclass(frozen=True, slots=True)
class ApiRules:
    """One API: what it accepts and the limits it applies."""

    name: Api
    title: str  # as the API's owner writes it, for messages
    kinds: tuple[Kind, ...]
    versions: tuple[str, ...]  # the first is the default
    batch_version: str  # the version whose endpoint takes batches
    credential_keys: tuple[str, ...]  # each names the environment variable holding it
    limits: Mapping[str, PayloadLimits]  # by API version
    checks: tuple[Check, ...]
    special_events: Mapping[str, Kind] = field(default_factory=dict)  # names with own shapes
    fields: FieldLimits | None = None  # where the API caps fields one by one
    max_message_id: int | None = None  # the longest messageId accepted, in characters

    def payload_limits(self, api_version: str, kind: str) -> PayloadLimits:
        """The limits of the endpoint a `kind` request of `api_version` goes to."""
        version = self.batch_version if kind == "batch" else api_version
        return self.limits.get(version, self.limits[self.versions[0]])


def _historical_only_in_batches(rules: ApiRules, ask: ScenarioAsk) -> list[str]:
    if ask.historical and ask.kind != "batch":
        return [
            f"{rules.title} honours `historical = true` (historical_migration) only on /batch/: "
            'use kind = "batch", or `history` alone to spread timestamps'
        ]
    return []


def _special_events_need_their_kind(rules: ApiRules, ask: ScenarioAsk) -> list[str]:
    if ask.kind not in ("track", "batch"):
        return []
    return [
        f'event {name!r} needs its own shape: use a kind = "{rules.special_events[name]}" scenario'
        for name in ask.events
        if name in rules.special_events
    ]


def _batch_needs_its_version(rules: ApiRules, ask: ScenarioAsk) -> list[str]:
    if ask.kind == "batch" and ask.api_version != rules.batch_version:
        return [
            f"{rules.title} Track {ask.api_version} has no batch endpoint: set api_version = "
            f'"{rules.batch_version}" (POST /api/{rules.batch_version}/batch) or use kind = "track"'
        ]
    return []


def _event_name_bytes(rules: ApiRules, ask: ScenarioAsk) -> list[str]:
    if rules.fields is None:
        return []
    limit = rules.fields.event_name_bytes
    return [
        f"{rules.title} event names are at most {limit} bytes: {name[:40]!r}…"
        for name in ask.events
        if len(name.encode()) > limit
    ]


def _batch_event_cap(rules: ApiRules, ask: ScenarioAsk) -> list[str]:
    cap = rules.payload_limits(ask.api_version, "batch").batch_events
    if ask.kind == "batch" and cap is not None and ask.batch_size > cap:
        return [
            f"{rules.title} accepts at most {cap} events per batch "
            f"(got batch_size = {ask.batch_size})"
        ]
    return []


POSTHOG = ApiRules(
    name="posthog",
    title="PostHog",
    kinds=KINDS,
    versions=("v1",),
    batch_version="v1",
    credential_keys=("token",),
    limits=MappingProxyType(
        {"v1": PayloadLimits(1_000_000, 2_000_000, 20_000_000, None, "PostHog capture")}
    ),
    checks=(_historical_only_in_batches, _special_events_need_their_kind),
    special_events=MappingProxyType({"$identify": "identify", "$create_alias": "alias"}),
)
CUSTOMERIO_FIELDS = FieldLimits(
    id_bytes=150, event_name_bytes=100, attribute_value_bytes=1000, attributes=300
)
CUSTOMERIO = ApiRules(
    name="customerio",
    title="Customer.io",
    kinds=KINDS,
    versions=("v1", "v2"),
    batch_version="v2",
    credential_keys=("site_id", "api_key"),
    limits=MappingProxyType(
        {
            # v1 documents only the 100 KB event-data cap; it is applied to the whole body.
            "v1": PayloadLimits(100_000, 100_000, 100_000, None, "Customer.io Track v1"),
            "v2": PayloadLimits(32_000, 32_000, 500_000, None, "Customer.io Track v2"),
        }
    ),
    checks=(_batch_needs_its_version, _event_name_bytes),
    fields=CUSTOMERIO_FIELDS,
)
# APIS.md: "messageId < 100 chars": 99 is the longest the mock and the generator accept.
SEGMENT_MAX_MESSAGE_ID = 99
SEGMENT = ApiRules(
    name="segment",
    title="Segment",
    kinds=KINDS,
    versions=("v1",),
    batch_version="v1",
    credential_keys=("write_key",),
    limits=MappingProxyType(
        {"v1": PayloadLimits(32_000, 32_000, 500_000, 2500, "Segment HTTP API")}
    ),
    checks=(_batch_event_cap,),
    max_message_id=SEGMENT_MAX_MESSAGE_ID,
)
RULES: Mapping[str, ApiRules] = MappingProxyType(
    {r.name: r for r in (POSTHOG, CUSTOMERIO, SEGMENT)}
)
APIS: tuple[Api, ...] = tuple(r.name for r in RULES.values())
# Every version some API has, in the order they were published.
VERSIONS: tuple[str, ...] = tuple(dict.fromkeys(v for r in RULES.values() for v in r.versions))


def credential_keys(api: str) -> tuple[str, ...]:
    """The credentials `api` needs (none for an API not in the table)."""
    rules = RULES.get(api)
    return rules.credential_keys if rules is not None else ()


def check_scenario(
    api: str,
    kind: str,
    api_version: str,
    batch_size: int,
    *,
    events: Sequence[str] = (),
    historical: bool = False,
) -> list[str]:
    """What a scenario asks that its API cannot take (user-facing messages, no key path)."""
    rules = RULES.get(api)
    if rules is None:
        return [f"unknown API {api!r}"]
    ask = ScenarioAsk(kind, api_version, batch_size, events, historical)
    return [problem for check in rules.checks for problem in check(rules, ask)]


__all__ = [
    "APIS",
    "CUSTOMERIO",
    "CUSTOMERIO_FIELDS",
    "KINDS",
    "POSTHOG",
    "RULES",
    "SEGMENT",
    "SEGMENT_MAX_MESSAGE_ID",
    "VERSIONS",
    "Api",
    "ApiRules",
    "FieldLimits",
    "Kind",
    "PayloadLimits",
    "ScenarioAsk",
    "check_scenario",
    "credential_keys",
]
