"""The agreed wall-clock start of a run (`run --start-at TIME`), read strictly.

Every worker of a fleet is handed the same TIME and starts its slice of the schedule then.
Two spellings, both unambiguous across machines and time zones: RFC 3339 with an offset or
`Z` (`2026-12-02T14:00:00Z`), or seconds since the Unix epoch (`1796220000`, `1796220000.5`).
A time without an offset is refused rather than guessed: each pod would read it in its own
zone. A time more than `MAX_DISTANCE_S` away is refused too: a typo in the date must not
leave a pod waiting for days, nor skip a whole schedule as already past.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

MAX_DISTANCE_S = 24 * 3600.0
EXAMPLE = (
    "write RFC 3339 with an offset, e.g. 2026-12-02T14:00:00Z, or epoch seconds, e.g. 1796220000"
)

_EPOCH = re.compile(r"[0-9]+(\.[0-9]+)?")
# RFC 3339 date-time: a T (or space, as RFC 3339 allows), seconds required, offset required.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
)


class StartAtError(ValueError):
    """A `--start-at` that cannot be read, or is too far from now to be meant."""


def parse_start_at(text: str, now: datetime) -> datetime:
    """The moment `text` names, in UTC; `now` (aware) bounds how far away it may be."""
    moment = _read(text.strip())
    distance = (moment - now).total_seconds()
    if abs(distance) > MAX_DISTANCE_S:
        side = "ahead" if distance > 0 else "ago"
        raise StartAtError(
            f"{text!r} is {abs(distance) / 3600:.1f} h {side}; a start must be within "
            f"{MAX_DISTANCE_S / 3600:.0f} h of now (is the date right?)"
        )
    return moment


def _read(text: str) -> datetime:
    if _EPOCH.fullmatch(text):
        seconds = float(text)  # hundreds of digits make inf: out of range like the rest
        try:
            if not math.isfinite(seconds):
                raise OverflowError
            return datetime.fromtimestamp(0, UTC) + timedelta(seconds=seconds)
        except OverflowError:
            raise StartAtError(
                f"{text!r} is out of range (milliseconds? give seconds); {EXAMPLE}"
            ) from None
    if not _RFC3339.fullmatch(text):
        naive = re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text)
        if naive:
            raise StartAtError(
                f"{text!r} has no time zone, so each machine would read it in its own; "
                f"add Z or an offset ({EXAMPLE})"
            )
        raise StartAtError(f"{text!r} is not a time; {EXAMPLE}")
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:  # e.g. month 13, hour 25
        raise StartAtError(f"{text!r}: {exc}; {EXAMPLE}") from None
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO 8601 UTC with a Z, to the millisecond (as the artifact's times)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
