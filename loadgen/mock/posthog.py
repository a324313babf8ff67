"""PostHog capture v0 (`/i/v0/e/`, `/e/`, `/capture/`, `/track/`, `/batch/`), as its code does.

Follows the capture service's code where it and the docs differ: a missing event name or
distinct_id is a 400 (not 200-and-drop); an event over ~1 MB is a 413. Bodies may be
gzip (`Content-Encoding: gzip`, `?compression=gzip|gzip-js`, or just the gzip magic bytes),
base64 (`?compression=base64`) or form-encoded (`data=...`, as posthog-js once sent);
`lz64` is answered 400 here (the mock does not implement LZ-string).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from loadgen.mock import codec
from loadgen.mock.model import Context, Event, Rejection, Request, Verdict, json_bytes

SINGLE_LIMIT = 2 * 1024 * 1024
BATCH_LIMIT = 20 * 1024 * 1024
EVENT_LIMIT = 1_000_000
MAX_TOKEN_LEN = 64
MAX_DISTINCT_ID_LEN = 200
OK_BODY = b'{"status":1}'
_OPS = {
    "$identify": "identify",
    "$create_alias": "alias",
    "$merge_dangerously": "alias",
    "$groupidentify": "group",
}


def body_limit(kind: str) -> int:
    return BATCH_LIMIT if kind == "batch" else SINGLE_LIMIT


def error_body(rej: Rejection) -> bytes:
    kind = {401: "authentication_error", 429: "rate_limited"}.get(rej.status, "validation_error")
    return json_bytes({"type": kind, "code": rej.code, "detail": rej.message})


def handle(kind: str, req: Request, ctx: Context) -> Verdict:
    """Validate one capture request; raise `Rejection` for any 4xx."""
    query = parse_qs(req.query) if req.query else {}
    data = _payload(req, query, body_limit(kind))
    events, envelope = _split(codec.parse_json(data))
    token = _token(envelope, events, ctx)
    ctx.admit(token)
    if not events:
        raise Rejection(400, "empty batch: no events to capture", "empty_batch")
    if len(data) > EVENT_LIMIT:
        _check_event_sizes(events)
    accepted = [_with_id(_event(raw), raw) for raw in events]
    beacon = query.get("beacon", [""])[0] in ("1", "true")
    return Verdict(
        204 if beacon else 200,
        b"" if beacon else OK_BODY,
        workspace=token,
        events=accepted,
        historical=envelope.get("historical_migration") is True,
    )


def _payload(req: Request, query: dict[str, list[str]], limit: int) -> bytes:
    """The JSON bytes of the request, with every supported wrapping undone."""
    compression = query.get("compression", [""])[0].lower()
    body = codec.decoded(req.body, req.headers.get("content-encoding"), limit)
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") and body.startswith(b"data="):
        form = parse_qs(body.decode("latin-1"))
        compression = form.get("compression", [compression])[0].lower()
        body = form.get("data", [""])[0].encode("latin-1")
        if compression not in ("gzip", "gzip-js") and body[:1] not in (b"{", b"["):
            compression = "base64"
    if compression in ("gzip", "gzip-js") or body[:2] == codec.GZIP_MAGIC:
        return codec.gunzip(body, limit)
    if compression == "base64":
        return codec.b64decode(body)
    if compression in ("lz64", "lzstring"):
        raise Rejection(400, "lz64 compression is not supported by the loadgen mock", "bad_enc")
    return body


def _split(payload: object) -> tuple[list[Any], dict[str, Any]]:
    """(events, envelope): a bare array, a `{"batch": [...]}` envelope, or one event."""
    if isinstance(payload, list):
        return payload, {}
    if not isinstance(payload, dict):
        raise Rejection(400, "expected a JSON object or array of events")
    if "batch" in payload:
        batch = payload["batch"]
        if not isinstance(batch, list):
            raise Rejection(400, "`batch` must be an array of events")
        return batch, payload
    return [payload], payload


def _token(envelope: dict[str, Any], events: list[Any], ctx: Context) -> str:
    token = envelope.get("api_key") or envelope.get("token")
    if not token:
        found = {_event_token(e) for e in events}
        found.discard(None)
        if len(found) > 1:
            raise Rejection(401, "the batch mixes several tokens", "multiple_tokens")
        token = found.pop() if found else None
    if not isinstance(token, str) or not token:
        raise Rejection(401, "API key is missing (api_key or token)", "no_token")
    if len(token) > MAX_TOKEN_LEN or not token.isascii() or "\x00" in token:
        raise Rejection(401, "API key is malformed", "invalid_token")
    if token.startswith("phx_"):
        raise Rejection(401, "a personal API key (phx_) cannot capture events", "personal_key")
    ctx.check_key(token, "project API key")
    return token


def _event_token(event: object) -> object:
    if not isinstance(event, dict):
        return None
    props = event.get("properties")
    from_props = props.get("token") if isinstance(props, dict) else None
    return event.get("api_key") or event.get("token") or from_props


def _check_event_sizes(events: list[Any]) -> None:
    for raw in events:
        if len(json_bytes(raw)) > EVENT_LIMIT:
            raise Rejection(413, f"an event exceeds {EVENT_LIMIT} bytes", "event_too_big")


def _with_id(event: Event, raw: object) -> Event:
    uuid = raw.get("uuid") if isinstance(raw, dict) else None
    event.event_id = uuid if isinstance(uuid, str) and uuid else None
    return event


def _event(raw: object) -> Event:
    if not isinstance(raw, dict):
        raise Rejection(400, "each event must be a JSON object")
    name = raw.get("event")
    if not isinstance(name, str) or not name:
        raise Rejection(400, "event name is missing", "missing_event_name")
    props = raw.get("properties")
    if props is None:
        props = {}
    elif not isinstance(props, dict):
        raise Rejection(400, "`properties` must be an object")
    distinct_id = _distinct_id(raw.get("distinct_id"), props.get("distinct_id"))
    op = _OPS.get(name, "track")
    if op == "identify":
        return Event(op, name, distinct_id, identifies=(distinct_id,))
    if op == "alias":
        alias = props.get("alias")
        new_ids = (str(alias),) if isinstance(alias, str | int) and alias != "" else ()
        return Event(op, name, distinct_id, identifies=new_ids, requires=distinct_id)
    return Event(op, name, distinct_id)


def _distinct_id(top: object, from_props: object) -> str:
    value = top if top is not None else from_props
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Rejection(400, "distinct_id is missing", "missing_distinct_id")
    text = value if isinstance(value, str) else str(value)
    if not text:
        raise Rejection(400, "distinct_id is empty", "missing_distinct_id")
    return text[:MAX_DISTINCT_ID_LEN]
