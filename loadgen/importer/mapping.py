"""Each file record onto the target's API: the replay mapping (one definition, in
`scenarios/replay.py`), the API's formats (`scenarios/`), its limits (`loadgen/apis.py`).

Event ids are deterministic: a record's own `uuid` / `messageId` / `id` if it has one, else
an id derived from the file's identity and the record's line (`Ids` seeded by a hash of
the identity, the line as the serial). A record resent after a crash carries the same id,
so a server that deduplicates on ids (PostHog does) sees it once. A record without a
timestamp gets the import's first start time, kept in the checkpoint for the same reason
(Customer.io ULIDs carry the timestamp).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from loadgen.apis import RULES
from loadgen.importer.batches import Item
from loadgen.scenarios.api_format import ApiFormat, Encoder, Ids, RecordError, Wire
from loadgen.scenarios.replay import record_wire
from loadgen.scenarios.scenario_set import FORMATS
from loadgen.transport import RequestSpec

# Fields whose values are distinct_ids an event touches (its own, the ones it links).
_TOP_KEYS = ("distinct_id", "userId", "anonymousId", "previousId")
_PROPERTY_KEYS = ("distinct_id", "alias", "$anon_distinct_id")


@dataclass(frozen=True, slots=True)
class ApiChoice:
    """What the import sends: the API, its version, gzip and PostHog's historical flag."""

    api: str
    api_version: str
    gzip: bool
    historical: bool


class ImportMapping:
    """Records to items (`item`), and items to requests (`request`)."""

    def __init__(
        self,
        choice: ApiChoice,
        credentials: Mapping[str, str],
        identity: str,
        started_at: float,
    ) -> None:
        nonce = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big")
        self._fmt: ApiFormat = FORMATS[choice.api](credentials, Ids(nonce), choice.api_version)
        self._encoder = Encoder(self._fmt.headers(), choice.gzip)
        self._choice, self._started_at = choice, started_at
        rules = RULES[choice.api]
        kind = "batch" if self._fmt.batch_path is not None else "track"
        self.limits = rules.payload_limits(choice.api_version, kind)
        self.title = rules.title

    @property
    def batches(self) -> bool:
        """Whether the API version has a batch endpoint (Customer.io v1 has none)."""
        return self._fmt.batch_path is not None

    @property
    def max_batch_events(self) -> int | None:
        return self.limits.batch_events

    def item(self, line: int, end: int, record: dict[str, Any]) -> Item:
        """The record as the API takes it; RecordError if the API would reject it."""
        wire = record_wire(self._fmt, record, self._started_at, line)
        size = len(orjson.dumps(wire.body))
        if size > self.limits.event_bytes:
            raise RecordError(
                f"the event is {size:,} bytes; {self.limits.source} takes at most "
                f"{self.limits.event_bytes:,} per event"
            )
        keys = _keys(record, wire.key)
        return Item(line, end, wire.body, wire.kind, keys, size, wire.path, wire.method)

    def request(self, items: list[Item], sent_at: float) -> RequestSpec:
        fmt = self._fmt
        if fmt.batch_path is not None:
            wires = [_as_wire(item) for item in items]
            body = fmt.batch_body(wires, sent_at, self._choice.historical)
            return self._encoder.request("POST", fmt.batch_path, body)
        only = items[0]
        wire = _as_wire(only)
        return self._encoder.request(only.wire_method, only.wire_path, fmt.single_body(wire))


def _as_wire(item: Item) -> Wire:
    return Wire(item.kind, item.wire_method, item.wire_path, item.body, None)


def _keys(record: dict[str, Any], key: str | None) -> frozenset[str]:
    """Every distinct_id the record names: batches holding any of them are ordered."""
    found = {key} if key else set()
    props = record.get("properties")
    sources: list[tuple[dict[str, Any], tuple[str, ...]]] = [(record, _TOP_KEYS)]
    if isinstance(props, dict):
        sources.append((props, _PROPERTY_KEYS))
    for source, names in sources:
        for name in names:
            value = source.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                found.add(str(value))
    return frozenset(found)


__all__ = ["ApiChoice", "ImportMapping"]
