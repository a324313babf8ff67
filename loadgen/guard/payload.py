"""Payload limits per API: predict request sizes from the profile and refuse what won't fit.

The estimate is an upper bound, built so that a request it passes is accepted:
- every event gets `EVENT_ENVELOPE` bytes for keys, uuid/messageId, timestamps and the
  library context the payload builders add (the real envelope is 200-300 bytes);
- the distinct id is counted `ID_COPIES` times (distinct_id, $anon_distinct_id or alias,
  properties.distinct_id, userId/previousId), at its longest (`id_prefix` + the digits of
  `users.count` + a suffix, or an anonymous UUID);
- properties are counted as JSON with every template at its longest expansion, and twice
  for identify (traits may travel in both `properties` and `$set`); an unknown template
  counts `UNKNOWN_TEMPLATE` bytes;
- a request adds `REQUEST_ENVELOPE` bytes (api_key, sent_at, flags) and a comma per event.
Sizes are uncompressed: the services apply their limits after decompression, so `gzip`
never buys room. Limits are read in decimal units (1 KB = 1,000 bytes), the smaller
reading. Replay scenarios are not estimated here: their events come from a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from loadgen.apis import RULES, FieldLimits, PayloadLimits
from loadgen.guard.context import Context
from loadgen.guard.findings import Finding
from loadgen.inputs.models import ScenarioSpec, UsersSpec

EVENT_ENVELOPE = 512
REQUEST_ENVELOPE = 512
ID_COPIES = 4
ID_SUFFIX = 8  # room for `-alias` and the like
UNKNOWN_TEMPLATE = 1024
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_]+)\s*(?::(.*?))?\s*\}\}")
_FIXED = {"uuid": 36, "timestamp": 32, "counter": 20}


def limits_for(spec: ScenarioSpec) -> PayloadLimits:
    """The limits from APIS.md (the API table) for the endpoint `spec` sends to."""
    return RULES[spec.api].payload_limits(spec.api_version, spec.kind)


@dataclass(frozen=True, slots=True)
class SizeEstimate:
    event_bytes: int
    request_bytes: int


def id_bytes(users: UsersSpec) -> int:
    """The longest id an event can carry: `id_prefix` + rank + a suffix such as `-alias`,
    or a 36-character anonymous UUID, whichever is longer."""
    prefix = len(orjson.dumps(users.id_prefix)) - 2
    return max(prefix + len(str(users.count)) + ID_SUFFIX, 36)


def estimate(spec: ScenarioSpec, users: UsersSpec) -> SizeEstimate:
    """Upper bounds for one event and one request of `spec` (see the module doc)."""
    ident = id_bytes(users)
    names = [_string_bytes(n, ident) for n in spec.events] or [16]
    props = value_bytes(spec.properties, ident) * (2 if spec.kind == "identify" else 1)
    event = EVENT_ENVELOPE + ID_COPIES * (ident + 2) + max(names) + props
    return SizeEstimate(event, REQUEST_ENVELOPE + spec.batch_size * (event + 1))


def max_batch_size(spec: ScenarioSpec, users: UsersSpec) -> int:
    """The largest batch_size whose estimated request fits the API's batch limit."""
    lim = limits_for(spec)
    event = estimate(spec, users).event_bytes
    fits = max(0, (lim.batch_bytes - REQUEST_ENVELOPE) // (event + 1))
    return min(fits, lim.batch_events) if lim.batch_events is not None else fits


def value_bytes(value: Any, ident: int) -> int:
    """JSON size of a property value with templates at their longest expansion."""
    if isinstance(value, str):
        return _string_bytes(value, ident)
    if isinstance(value, dict):
        items = [len(orjson.dumps(str(k))) + 1 + value_bytes(v, ident) for k, v in value.items()]
        return 2 + sum(items) + max(0, len(items) - 1)
    if isinstance(value, list):
        parts = [value_bytes(v, ident) for v in value]
        return 2 + sum(parts) + max(0, len(parts) - 1)
    return len(orjson.dumps(value, default=str))


def _string_bytes(text: str, ident: int) -> int:
    total, pos = 2, 0  # the quotes
    for match in _TEMPLATE.finditer(text):
        total += len(orjson.dumps(text[pos : match.start()])) - 2
        total += template_bytes(match.group(1), match.group(2), ident)
        pos = match.end()
    return total + len(orjson.dumps(text[pos:])) - 2


def template_bytes(name: str, arg: str | None, ident: int) -> int:
    """The longest JSON-escaped text one template can expand to."""
    if name == "user":
        return ident
    if name in _FIXED:
        return _FIXED[name]
    if name == "text" and arg and arg.strip().isdigit():
        return int(arg)  # letters only: no escaping
    if name == "choice" and arg:
        return max(len(orjson.dumps(option.strip())) - 2 for option in arg.split(","))
    if name in ("int", "float") and arg:
        bounds = arg.split("..")
        try:
            digits = max(len(str(int(abs(float(b))))) for b in bounds) + 1  # sign
        except ValueError:
            return UNKNOWN_TEMPLATE
        return digits + (24 if name == "float" else 0)  # '.', 17 digits, exponent
    return UNKNOWN_TEMPLATE


def check(ctx: Context) -> list[Finding]:
    found: list[Finding] = []
    for index, spec in enumerate(ctx.profile.scenarios):
        if spec.replay is None:
            found += _scenario(ctx, index, spec)
        if (fields := RULES[spec.api].fields) is not None:
            found += _field_limits(ctx, index, spec, fields)
    return found


def _field_limits(ctx: Context, index: int, spec: ScenarioSpec, cap: FieldLimits) -> list[Finding]:
    """Ids everywhere; names for events; count and size of a person's attributes."""
    where, ident = f"scenarios[{index}]", id_bytes(ctx.profile.users)
    title = RULES[spec.api].title
    checks: list[tuple[str, str, int, int]] = [
        ("users.id_prefix", "a customer id", ident, cap.id_bytes)
    ]
    if spec.kind in ("track", "batch"):
        checks += [
            (f"{where}.events", f"event name {name!r}", len(name.encode()), cap.event_name_bytes)
            for name in spec.events
        ]
    if spec.kind == "identify":  # event `data` has no per-value cap, only the body limit
        props = spec.properties
        checks.append((f"{where}.properties", "the attribute count", len(props), cap.attributes))
        checks += [
            (
                f"{where}.properties.{k}",
                f"attribute {k!r}",
                value_bytes(v, ident) - 2,
                cap.attribute_value_bytes,
            )
            for k, v in props.items()
        ]
    return [
        ctx.at.finding(
            "payload.too-large",
            "refusal",
            f"{what} may reach {size:,}, above {title}'s limit of {limit:,}",
            path,
            value=size,
            limit=limit,
            fix="shorten it (ids, names and attribute values are capped in bytes)",
        )
        for path, what, size, limit in checks
        if size > limit
    ]


Check = tuple[str, str, int, int]  # (key path, what is measured, its size, the limit)


def _scenario(ctx: Context, index: int, spec: ScenarioSpec) -> list[Finding]:
    lim, size = limits_for(spec), estimate(spec, ctx.profile.users)
    where, what = f"scenarios[{index}]", f"one {spec.name!r}"
    shorten = "shorten the properties or their templates"
    if size.event_bytes > lim.event_bytes:
        event = (f"{where}.properties", f"{what} event", size.event_bytes, lim.event_bytes)
        return _over(ctx, lim, [event], shorten)
    if spec.kind != "batch":
        call = (f"{where}.properties", f"{what} request", size.request_bytes, lim.request_bytes)
        return _over(ctx, lim, [call], shorten)
    found = []
    fix = f"set batch_size <= {max_batch_size(spec, ctx.profile.users)}"
    if lim.batch_events is not None and spec.batch_size > lim.batch_events:
        found.append(
            ctx.at.finding(
                "payload.too-large",
                "refusal",
                f"a {spec.name!r} batch holds {spec.batch_size} events; {lim.source} "
                f"accepts at most {lim.batch_events}",
                f"{where}.batch_size",
                value=spec.batch_size,
                limit=lim.batch_events,
                fix=fix,
            )
        )
    batch = (f"{where}.batch_size", f"{what} batch", size.request_bytes, lim.batch_bytes)
    return found + _over(ctx, lim, [batch], fix)


def _over(ctx: Context, lim: PayloadLimits, checks: list[Check], fix: str) -> list[Finding]:
    return [
        ctx.at.finding(
            "payload.too-large",
            "refusal",
            f"{what} may reach {size:,} bytes (a conservative estimate); {lim.source} accepts "
            f"at most {limit:,}",
            path,
            value=size,
            limit=limit,
            fix=fix,
        )
        for path, what, size, limit in checks
        if size > limit
    ]
