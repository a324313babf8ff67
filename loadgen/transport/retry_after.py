"""Parse a `Retry-After` header value into seconds to wait (RFC 9110 §10.2.3).

Two forms exist: delta-seconds (`120`) and an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`).
A fractional delta (`1.5`) is not in the RFC but some APIs send it; it is accepted because
honouring it is harmless. Anything else is ignored (`None`) rather than guessed at: a
garbled header must not stall a run.
"""

from __future__ import annotations

import re
import time
from datetime import UTC

_DELTA = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def parse_retry_after(value: bytes | str, now: float | None = None) -> float | None:
    """Seconds to wait from `now` (Unix time, default the current time), or None if invalid.

    A date in the past gives 0.0. Surrounding whitespace is ignored.
    """
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if _DELTA.fullmatch(text):
        return float(text)
    return _seconds_until_date(text, time.time() if now is None else now)


def _seconds_until_date(text: str, now: float) -> float | None:
    # The email package (~3-5 ms to import) only for the rare date form, never on start-up.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # HTTP dates are always GMT; asctime and "-0000" parse as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
