"""Segment HTTP Tracking API (`/v1/identify|track|alias|page|screen|group|batch`).

The writeKey comes from the body's `writeKey` or from Basic auth `writeKey:`; none is a 401.
Size limits answer 400, as Segment documents: 32 KB per call or per event in a batch,
500 KB per batch, at most 2500 events per batch. A message without userId/anonymousId, a
track without `event`, an alias without previousId/userId is also a 400 (Segment's
public API may instead answer 200 and drop it; a load test wants it loud).
"""

from __future__ import annotations

from typing import Any

from loadgen.apis import SEGMENT, SEGMENT_MAX_MESSAGE_ID
from loadgen.mock import codec
from loadgen.mock.model import Context, Event, Rejection, Request, Verdict, json_bytes

CALL_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
MAX_BATCH_EVENTS = SEGMENT.payload_limits(SEGMENT.batch_version, "batch").batch_events
OK_BODY = b'{"success":true}'
TYPES = ("identify", "track", "alias", "page", "screen", "group")


def body_limit(kind: str) -> int:
    return BATCH_LIMIT if kind == "batch" else CALL_LIMIT


def error_body(rej: Rejection) -> bytes:
    return json_bytes({"code": rej.code, "message": rej.message})


def handle(kind: str, req: Request, ctx: Context) -> Verdict:
    """Validate one tracking request; raise `Rejection` for any 4xx."""
    limit = body_limit(kind)
    body = codec.decoded(req.body, req.headers.get("content-encoding"), limit, too_large=400)
    if len(body) > limit:
        raise Rejection(400, f"request body exceeds {limit // 1024} KB", "payload_too_large")
    payload = codec.parse_json(body)
    if not isinstance(payload, dict):
        raise Rejection(400, "request body must be a JSON object")
    write_key = _write_key(payload, req, ctx)
    ctx.admit(write_key)
    if kind != "batch":
        return Verdict(200, OK_BODY, workspace=write_key, events=[_message(payload, kind)])
    batch = payload.get("batch")
    if not isinstance(batch, list) or not batch:
        raise Rejection(400, "batch must be a non-empty array")
    if MAX_BATCH_EVENTS is not None and len(batch) > MAX_BATCH_EVENTS:
        raise Rejection(400, f"a batch holds at most {MAX_BATCH_EVENTS} events", "too_many")
    if len(body) > CALL_LIMIT:
        for message in batch:
            if len(json_bytes(message)) > CALL_LIMIT:
                raise Rejection(400, "an event in the batch exceeds 32 KB", "payload_too_large")
    events = [_message(message, None) for message in batch]
    return Verdict(200, OK_BODY, workspace=write_key, events=events)


def _write_key(payload: dict[str, Any], req: Request, ctx: Context) -> str:
    key = payload.get("writeKey")
    if key is None:
        creds = codec.basic_auth(req.headers.get("authorization"))
        key = creds[0] if creds else None
    if not isinstance(key, str) or not key:
        raise Rejection(401, "missing writeKey (in the body or as Basic auth)", "invalid_auth")
    ctx.check_key(key, "writeKey")
    return key


def _ident(message: dict[str, Any], field: str) -> str | None:
    value = message.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _message(message: object, kind: str | None) -> Event:
    event = _message_event(message, kind)
    message_id = message.get("messageId") if isinstance(message, dict) else None
    event.event_id = message_id if isinstance(message_id, str) and message_id else None
    return event


def _message_event(message: object, kind: str | None) -> Event:
    if not isinstance(message, dict):
        raise Rejection(400, "each message must be a JSON object")
    mtype = kind or message.get("type")
    if mtype not in TYPES:
        raise Rejection(400, f"unknown message type {mtype!r}; use one of {', '.join(TYPES)}")
    message_id = message.get("messageId")
    if message_id is not None and (
        not isinstance(message_id, str) or len(message_id) > SEGMENT_MAX_MESSAGE_ID
    ):
        raise Rejection(
            400, f"messageId must be a string under {SEGMENT_MAX_MESSAGE_ID + 1} characters"
        )
    user_id = _ident(message, "userId")
    if mtype == "alias":
        previous = _ident(message, "previousId")
        if previous is None or user_id is None:
            raise Rejection(400, "alias needs previousId and userId", "missing_id")
        return Event("alias", None, previous, identifies=(user_id,), requires=previous)
    distinct_id = user_id or _ident(message, "anonymousId")
    if distinct_id is None:
        raise Rejection(400, "userId or anonymousId is required", "missing_id")
    if mtype == "identify":
        return Event("identify", None, distinct_id, identifies=(user_id,) if user_id else ())
    if mtype == "track":
        name = message.get("event")
        if not isinstance(name, str) or not name:
            raise Rejection(400, "track needs an event name", "missing_event")
        return Event("track", name, distinct_id)
    if mtype == "group" and _ident(message, "groupId") is None:
        raise Rejection(400, "group needs a groupId", "missing_id")
    name = message.get("name")
    return Event(mtype, name if isinstance(name, str) and name else None, distinct_id)
