"""Customer.io Track API v1 and v2, with the documented limits.

Auth is HTTP Basic `site_id:api_key` (both non-empty) on every route, else 401. Errors are
`{"meta":{"error":...}}` on v1 and `{"errors":[{reason, field, message}]}` on v2. A v2
batch with some invalid entities answers 207 and counts the valid ones. A merge counts as
op "alias" (it is Customer.io's alias), depending on its primary person.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from loadgen.apis import CUSTOMERIO_FIELDS
from loadgen.mock import codec
from loadgen.mock.model import Context, Event, Rejection, Request, Verdict, json_bytes

V1_LIMIT = 1024 * 1024  # v1 has per-field limits only; this just bounds buffering
ENTITY_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
# The per-field limits the generator and the guard also apply live in the API table.
MAX_ID_BYTES = CUSTOMERIO_FIELDS.id_bytes
MAX_ATTRIBUTES = CUSTOMERIO_FIELDS.attributes
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = CUSTOMERIO_FIELDS.attribute_value_bytes
MAX_EVENT_NAME_BYTES = CUSTOMERIO_FIELDS.event_name_bytes
MAX_EVENT_DATA_BYTES = 100 * 1024
IDENTIFIER_KEYS = ("id", "email", "cio_id")
_V2_TYPES = ("person", "object", "delivery")
_V2_NAMED = ("event", "page", "screen")
_V2_OPS = {"identify": "identify", "event": "track", "merge": "alias"}


def body_limit(kind: str) -> int:
    return {"v2_entity": ENTITY_LIMIT, "v2_batch": BATCH_LIMIT}.get(kind, V1_LIMIT)


def error_body(rej: Rejection, kind: str) -> bytes:
    if kind.startswith("v2"):
        return json_bytes({"errors": [{"reason": rej.code, "message": rej.message}]})
    return json_bytes({"meta": {"error": rej.message}})


def handle(kind: str, req: Request, ctx: Context, customer_id: str = "") -> Verdict:
    """Validate one Track API request; raise `Rejection` for any 4xx."""
    site_id = _authenticate(req, ctx)
    ctx.admit(site_id)
    body = codec.decoded(req.body, req.headers.get("content-encoding"), body_limit(kind))
    payload = codec.parse_json(body) if body.strip() or kind.startswith("v2") else {}
    if not isinstance(payload, dict):
        raise Rejection(400, "request body must be a JSON object")
    if kind == "v2_batch":
        return _batch(payload, site_id)
    if kind == "v2_entity":
        error, event = _entity(payload)
        if error is not None:
            raise Rejection(400, error["message"], error["reason"])
        return Verdict(200, b"{}", workspace=site_id, events=[event] if event is not None else [])
    return Verdict(200, b"{}", workspace=site_id, events=[_v1_event(kind, payload, customer_id)])


def _authenticate(req: Request, ctx: Context) -> str:
    creds = codec.basic_auth(req.headers.get("authorization"))
    if creds is None or not creds[0] or not creds[1]:
        raise Rejection(401, "Unauthorized request", "unauthorized")
    ctx.check_key(f"{creds[0]}:{creds[1]}", "site_id:api_key")
    return creds[0]


def _v1_event(kind: str, payload: dict[str, Any], customer_id: str) -> Event:
    if kind in ("identify", "track", "delete"):
        customer_id = unquote(customer_id)
        if not customer_id:
            raise Rejection(400, "id attribute cannot be an empty string")
        if len(customer_id.encode()) > MAX_ID_BYTES:
            raise Rejection(400, f"id attribute cannot be longer than {MAX_ID_BYTES} bytes")
    if kind == "identify":
        _check_attributes(payload)
        email = payload.get("email")
        extra = (email,) if isinstance(email, str) and email else ()
        return Event("identify", None, customer_id, identifies=(customer_id, *extra))
    if kind == "delete":
        return Event("delete", None, customer_id)
    if kind == "merge":
        primary = _identifier(payload.get("primary"), "primary")
        secondary = _identifier(payload.get("secondary"), "secondary")
        return Event("alias", None, primary, identifies=(secondary,), requires=primary)
    name = _event_name(payload.get("name"))
    _check_event_body(payload)
    anonymous = payload.get("anonymous_id")
    if kind == "track":
        return Event("track", name, customer_id)
    return Event("track", name, anonymous if isinstance(anonymous, str) and anonymous else None)


def _event_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise Rejection(400, "name cannot be blank")
    if len(name.encode()) > MAX_EVENT_NAME_BYTES:
        raise Rejection(400, f"event name cannot be longer than {MAX_EVENT_NAME_BYTES} bytes")
    return name


def _check_event_body(payload: dict[str, Any]) -> None:
    data = payload.get("data")
    if data is not None and not isinstance(data, dict):
        raise Rejection(400, "data must be an object")
    if data and codec.serialized_len(data) > MAX_EVENT_DATA_BYTES:
        raise Rejection(400, f"event data cannot be larger than {MAX_EVENT_DATA_BYTES} bytes")
    timestamp = payload.get("timestamp")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
        raise Rejection(400, "timestamp must be a valid unix timestamp")


def _check_attributes(attributes: dict[str, Any]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise Rejection(400, f"cannot identify more than {MAX_ATTRIBUTES} attributes")
    for name, value in attributes.items():
        if codec.utf8_len(name) > MAX_ATTRIBUTE_NAME_BYTES:
            raise Rejection(400, f"attribute name cannot be longer than {MAX_ATTRIBUTE_NAME_BYTES}")
        size = codec.utf8_len(value) if isinstance(value, str) else codec.serialized_len(value)
        if size > MAX_ATTRIBUTE_VALUE_BYTES:
            raise Rejection(400, f"value for attribute '{name}' cannot be longer than 1000 bytes")
    created_at = attributes.get("created_at")
    if created_at is not None and (isinstance(created_at, bool) or not isinstance(created_at, int)):
        raise Rejection(400, "created_at must be a valid unix timestamp")


def _identifier(value: object, field: str) -> str:
    """The one identifier value of a `{id|email|cio_id: value}` object."""
    if not isinstance(value, dict):
        raise Rejection(400, f"{field} must be an object with one of id, email or cio_id")
    found = [value[key] for key in IDENTIFIER_KEYS if key in value]
    if len(found) != 1 or len(value) != 1:
        raise Rejection(400, f"{field} must have exactly one of id, email or cio_id")
    ident = found[0]
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    if not isinstance(ident, str) or not ident:
        raise Rejection(400, f"{field} identifier must be a non-empty string")
    return ident


def _batch(payload: dict[str, Any], site_id: str) -> Verdict:
    batch = payload.get("batch")
    if not isinstance(batch, list) or not batch:
        raise Rejection(400, "batch must be a non-empty array of entities", "invalid_batch")
    events: list[Event] = []
    errors: list[dict[str, object]] = []
    for index, entity in enumerate(batch):
        error, event = _entity(entity)
        if error is not None:
            errors.append({"batch_index": index, **error})
        elif event is not None:
            events.append(event)
    if errors:
        body = json_bytes({"errors": errors})
        return Verdict(207, body, workspace=site_id, events=events, rejected=len(errors))
    return Verdict(200, b"{}", workspace=site_id, events=events)


def _entity(entity: object) -> tuple[dict[str, str] | None, Event | None]:
    """(error, event): a v2 entity's first problem as {reason, field, message}, or its event."""
    try:
        return None, _entity_event(entity)
    except _FieldError as exc:
        return {"reason": exc.reason, "field": exc.field, "message": exc.message}, None


class _FieldError(Exception):
    def __init__(self, field: str, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.field, self.message, self.reason = field, message, reason


def _entity_event(entity: object) -> Event:
    if not isinstance(entity, dict):
        raise _FieldError("", "each entity must be a JSON object")
    etype, action = entity.get("type"), entity.get("action")
    if etype not in _V2_TYPES:
        raise _FieldError("type", "type must be one of person, object, delivery", "required")
    if not isinstance(action, str) or not action:
        raise _FieldError("action", "action is required", "required")
    attributes = entity.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            raise _FieldError("attributes", "attributes must be an object")
        try:
            _check_attributes(attributes)
        except Rejection as exc:
            raise _FieldError("attributes", exc.message) from None
    if etype != "person":
        return Event(action, None, None)
    if action == "merge":
        try:
            primary = _identifier(entity.get("primary"), "primary")
            secondary = _identifier(entity.get("secondary"), "secondary")
        except Rejection as exc:
            raise _FieldError("primary", exc.message, "required") from None
        return Event("alias", None, primary, identifies=(secondary,), requires=primary)
    try:
        ident = _identifier(entity.get("identifiers"), "identifiers")
    except Rejection as exc:
        raise _FieldError("identifiers", exc.message, "required") from None
    name: str | None = None
    if action in _V2_NAMED:
        try:
            name = _event_name(entity.get("name"))
        except Rejection as exc:
            raise _FieldError("name", exc.message, "required") from None
    op = _V2_OPS.get(action, action)
    return Event(op, name, ident, identifies=(ident,) if op == "identify" else ())
