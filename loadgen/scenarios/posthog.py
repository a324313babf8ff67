"""PostHog capture v0: `POST /i/v0/e/` for one event, `POST /batch/` for many (APIS.md).

track     {api_key, event, distinct_id, properties{..., $lib, $lib_version}, timestamp, uuid}
identify  event "$identify", distinct_id = user id, properties.$anon_distinct_id = the
          user's anonymous id, top-level $set = the scenario's properties
alias     event "$create_alias", distinct_id = user id (identified before), properties.alias
          = the new id, properties.distinct_id = user id (what posthog-python sends)
batch     {api_key, batch: [events without api_key], sent_at, historical_migration?}
The token travels in the body (`api_key`), as the SDKs send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadgen import __version__
from loadgen.apis import POSTHOG
from loadgen.inputs.templates import Iso8601
from loadgen.scenarios.api_format import JSON_HEADERS, Ids, Op, RecordError, Wire

SINGLE_PATH = "/i/v0/e/"
BATCH_PATH = "/batch/"
_KINDS: Mapping[str, str] = POSTHOG.special_events  # event name -> the kind whose shape it has
_NAMES = {kind: name for name, kind in _KINDS.items()}


class PostHog:
    api = "posthog"
    batch_path: str | None = BATCH_PATH
    anonymous_tracks = True

    __slots__ = ("_ids", "_iso", "_token")

    def __init__(self, credentials: Mapping[str, str], ids: Ids) -> None:
        self._token = credentials["token"]
        self._ids = ids
        self._iso = Iso8601()

    def __repr__(self) -> str:
        return "PostHog(token=<redacted>)"

    def headers(self) -> tuple[tuple[str, str], ...]:
        return JSON_HEADERS

    def native_time(self, ts: float) -> object:
        return self._iso(ts)

    def wire(self, op: Op) -> Wire:
        props = op.properties
        person: dict[str, Any] | None = None
        if op.kind == "identify":
            person = props
            props = {"$anon_distinct_id": op.anon_id} if op.anon_id else {}
        elif op.kind == "alias":
            props["alias"] = op.alias
            props["distinct_id"] = op.user_id
        props["$lib"] = "loadgen"
        props["$lib_version"] = __version__
        event: dict[str, Any] = {
            "event": _NAMES.get(op.kind, op.event),
            "distinct_id": op.distinct_id,
            "properties": props,
            "timestamp": self._iso(op.ts),
            "uuid": op.message_id or self._ids.uuid(op.serial),
        }
        if person is not None:
            event["$set"] = person
        return Wire(op.kind, "POST", SINGLE_PATH, event, op.user_id)

    def single_body(self, wire: Wire) -> dict[str, Any]:
        return {"api_key": self._token, **wire.body}

    def batch_body(self, wires: list[Wire], sent_at: float, historical: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "api_key": self._token,
            "batch": [w.body for w in wires],
            "sent_at": self._iso(sent_at),
        }
        if historical:
            body["historical_migration"] = True
        return body

    def passthrough(self, record: dict[str, Any], ts: float, serial: int) -> Wire | None:
        """A replayed object is a PostHog event: keep it, fill in timestamp and uuid."""
        name = record.get("event")
        if not isinstance(name, str) or not name:
            raise RecordError("`event` must be a non-empty string")
        props = record.get("properties", {})
        if not isinstance(props, dict):
            raise RecordError("`properties` must be an object")
        distinct_id = record.get("distinct_id", props.get("distinct_id"))
        if isinstance(distinct_id, bool) or not isinstance(distinct_id, str | int):
            raise RecordError("`distinct_id` is missing (or not a string)")
        if distinct_id == "":
            raise RecordError("`distinct_id` is empty")
        body = {k: v for k, v in record.items() if k not in ("api_key", "token")}
        body.setdefault("timestamp", self._iso(ts))
        body.setdefault("uuid", self._ids.uuid(serial))
        return Wire(_KINDS.get(name, "track"), "POST", SINGLE_PATH, body, str(distinct_id))
