"""Customer.io Track API, v1 and v2 (APIS.md). Basic auth `site_id:api_key` on every call.

v1 (no batch endpoint):
  identify        PUT  /api/v1/customers/{id}          {...attributes, created_at, anonymous_id}
  track           POST /api/v1/customers/{id}/events   {name, data, timestamp, id}
  anonymous track POST /api/v1/events                  {name, anonymous_id, data, timestamp, id}
  alias (merge)   POST /api/v1/merge_customers         {primary: {id}, secondary: {id}}
v2 (`api_version = "v2"`): POST /api/v2/entity with one entity, POST /api/v2/batch with
  {batch: [entities]}; entities are {type: "person", action: "identify" | "event" | "merge",
  identifiers: {id}, attributes, name, id, timestamp} or, for a merge, {primary, secondary}.
  v2 tracks always carry `identifiers.id` (the mock, like v2's own batch validation, needs an
  identifier), so a v2 journey has no anonymous stage.
Timestamps are unix seconds; `created_at` (identify) defaults to the event's time; `id` is a
ULID (Customer.io deduplicates on it).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from loadgen.scenarios.api_format import JSON_HEADERS, Ids, Op, RecordError, Wire

V2_ENTITY = "/api/v2/entity"
V2_BATCH = "/api/v2/batch"


class CustomerIO:
    api = "customerio"

    __slots__ = ("_headers", "_ids", "_v2", "anonymous_tracks", "batch_path")

    def __init__(self, credentials: Mapping[str, str], ids: Ids, version: str = "v1") -> None:
        pair = f"{credentials['site_id']}:{credentials['api_key']}".encode()
        auth = ("Authorization", "Basic " + base64.b64encode(pair).decode("ascii"))
        self._headers = (*JSON_HEADERS, auth)
        self._ids = ids
        self._v2 = version == "v2"
        self.batch_path: str | None = V2_BATCH if self._v2 else None
        self.anonymous_tracks = not self._v2

    def __repr__(self) -> str:
        return f"CustomerIO(version={'v2' if self._v2 else 'v1'}, credentials=<redacted>)"

    def headers(self) -> tuple[tuple[str, str], ...]:
        return self._headers

    def native_time(self, ts: float) -> object:
        return int(ts)

    def wire(self, op: Op) -> Wire:
        return self._v2_wire(op) if self._v2 else self._v1_wire(op)

    def _attributes(self, op: Op) -> dict[str, Any]:
        attrs = op.properties
        attrs.setdefault("created_at", int(op.ts))
        if op.anon_id:
            attrs.setdefault("anonymous_id", op.anon_id)
        return attrs

    def _v1_wire(self, op: Op) -> Wire:
        key = op.user_id
        if op.kind == "identify":
            path = f"/api/v1/customers/{quote(key, safe='')}"
            return Wire("identify", "PUT", path, self._attributes(op), key)
        if op.kind == "alias":
            merge = {"primary": {"id": key}, "secondary": {"id": op.alias}}
            return Wire("alias", "POST", "/api/v1/merge_customers", merge, key)
        body: dict[str, Any] = {"name": op.event}
        if op.anonymous and op.anon_id:
            body["anonymous_id"] = op.anon_id
            path = "/api/v1/events"
        else:
            path = f"/api/v1/customers/{quote(key, safe='')}/events"
        body["data"] = op.properties
        body["timestamp"] = int(op.ts)
        body["id"] = self._ids.ulid(op.serial, op.ts)
        return Wire("track", "POST", path, body, key)

    def _v2_wire(self, op: Op) -> Wire:
        key = op.user_id
        entity: dict[str, Any] = {"type": "person"}
        if op.kind == "alias":
            entity["action"] = "merge"
            entity["primary"] = {"id": key}
            entity["secondary"] = {"id": op.alias}
        elif op.kind == "identify":
            entity["identifiers"] = {"id": key}
            entity["action"] = "identify"
            entity["attributes"] = self._attributes(op)
        else:
            entity["identifiers"] = {"id": key}
            entity["action"] = "event"
            entity["name"] = op.event
            entity["id"] = self._ids.ulid(op.serial, op.ts)
            entity["timestamp"] = int(op.ts)
            entity["attributes"] = op.properties
        return Wire(op.kind, "POST", V2_ENTITY, entity, key)

    def single_body(self, wire: Wire) -> dict[str, Any]:
        return wire.body

    def batch_body(self, wires: list[Wire], sent_at: float, historical: bool) -> dict[str, Any]:
        return {"batch": [w.body for w in wires]}

    def passthrough(self, record: dict[str, Any], ts: float, serial: int) -> Wire | None:
        """A v2 entity ({type, action, ...}) is sent as is, with `id`/`timestamp` filled in."""
        if not self._v2 or "action" not in record or "type" not in record:
            return None
        action = record["action"]
        if not isinstance(action, str) or not action or not isinstance(record["type"], str):
            raise RecordError("a v2 entity needs string `type` and `action`")
        who = record.get("primary") if action == "merge" else record.get("identifiers")
        if not isinstance(who, dict) or not who:
            field = "primary" if action == "merge" else "identifiers"
            raise RecordError(f"a v2 {action!r} entity needs an `{field}` object")
        body = dict(record)
        if action == "event":
            body.setdefault("id", self._ids.ulid(serial, ts))
            body.setdefault("timestamp", int(ts))
        key = next(iter(who.values()))
        kind = {"event": "track", "merge": "alias"}.get(action, action)
        return Wire(kind, "POST", V2_ENTITY, body, str(key))
