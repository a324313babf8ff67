"""Segment HTTP Tracking API (`/v1/identify|track|alias|batch`, APIS.md); also the shape of
Customer.io Data Pipelines. Basic auth `base64(writeKey + ":")`; the key is never in the body.

identify  {userId, anonymousId, traits, timestamp, messageId, context.library}
track     {userId | anonymousId, event, properties, timestamp, messageId, context.library}
alias     {previousId = user id (identified before), userId = the new id, ...}
batch     {batch: [{type, ...message}], sentAt}
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from loadgen.apis import SEGMENT_MAX_MESSAGE_ID
from loadgen.inputs.templates import Iso8601
from loadgen.scenarios.api_format import JSON_HEADERS, LIBRARY, Ids, Op, RecordError, Wire

BATCH_PATH = "/v1/batch"
TYPES = ("identify", "track", "alias", "page", "screen", "group")
_CONTEXT = {"library": LIBRARY}


class Segment:
    api = "segment"
    batch_path: str | None = BATCH_PATH
    anonymous_tracks = True

    __slots__ = ("_headers", "_ids", "_iso")

    def __init__(self, credentials: Mapping[str, str], ids: Ids) -> None:
        token = base64.b64encode(f"{credentials['write_key']}:".encode()).decode("ascii")
        self._headers = (*JSON_HEADERS, ("Authorization", "Basic " + token))
        self._ids = ids
        self._iso = Iso8601()

    def __repr__(self) -> str:
        return "Segment(write_key=<redacted>)"

    def headers(self) -> tuple[tuple[str, str], ...]:
        return self._headers

    def native_time(self, ts: float) -> object:
        return self._iso(ts)

    def wire(self, op: Op) -> Wire:
        body: dict[str, Any]
        if op.kind == "identify":
            body = {"userId": op.user_id}
            if op.anon_id:
                body["anonymousId"] = op.anon_id
            body["traits"] = op.properties
        elif op.kind == "alias":
            body = {"previousId": op.user_id, "userId": op.alias}
        else:
            who = "anonymousId" if op.anonymous and op.anon_id else "userId"
            body = {who: op.distinct_id, "event": op.event, "properties": op.properties}
        body["timestamp"] = self._iso(op.ts)
        body["messageId"] = op.message_id or self._ids.uuid(op.serial)
        body["context"] = _CONTEXT
        return Wire(op.kind, "POST", f"/v1/{op.kind}", body, op.user_id)

    def single_body(self, wire: Wire) -> dict[str, Any]:
        return wire.body

    def batch_body(self, wires: list[Wire], sent_at: float, historical: bool) -> dict[str, Any]:
        return {"batch": [{"type": w.kind, **w.body} for w in wires], "sentAt": self._iso(sent_at)}

    def passthrough(self, record: dict[str, Any], ts: float, serial: int) -> Wire | None:
        """A message with a `type` is already Segment-shaped: send it as is."""
        if "type" not in record:
            return None
        kind = record["type"]
        if kind not in TYPES:
            raise RecordError(f"`type` must be one of {', '.join(TYPES)}")
        key = record.get("userId") or record.get("anonymousId")
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise RecordError("a Segment message needs `userId` or `anonymousId`")
        if kind == "track" and not (isinstance(record.get("event"), str) and record["event"]):
            raise RecordError("a track message needs a non-empty `event`")
        if kind == "alias" and not record.get("previousId"):
            raise RecordError("an alias message needs `previousId`")
        body = {k: v for k, v in record.items() if k not in ("type", "writeKey")}
        body.setdefault("timestamp", self._iso(ts))
        body.setdefault("messageId", self._ids.uuid(serial))
        if len(str(body["messageId"])) > SEGMENT_MAX_MESSAGE_ID:
            raise RecordError(f"`messageId` must be under {SEGMENT_MAX_MESSAGE_ID + 1} characters")
        key = record["previousId"] if kind == "alias" else key
        return Wire(kind, "POST", f"/v1/{kind}", body, str(key))
