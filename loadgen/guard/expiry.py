"""Approval expiries: how `--expires` is read, and how every command shows the result.

The rule: a bare date (`--expires 2026-12-04`) means through the end of that day in UTC.
The file stores the instant it ends, the next midnight (`2026-12-05T00:00:00Z`, the first
instant the approval is void), and every command shows it as the day given plus that
instant, so `approve sign`, `lint`, `run` and the brief never seem to disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def expiry_text(expires: datetime) -> str:
    """How every command shows an expiry. `--expires 2026-12-04` means through the end of
    that UTC day, stored as the next midnight: shown as the day it was given, and the
    instant in the file, so the sign output, lint and the brief all read alike."""
    moment = expires.astimezone(UTC)
    if moment.time() == time():
        day = (moment - timedelta(days=1)).date().isoformat()
        return f"the end of {day} UTC ({utc_text(moment)})"
    return utc_text(moment)


def parse_expiry(text: str) -> datetime:
    """`2026-12-31` (valid through that UTC day) or an ISO 8601 date-time with an offset."""
    try:
        if len(text.strip()) == 10:
            day = datetime.fromisoformat(text.strip()).date()
            return datetime.combine(day + timedelta(days=1), time(), UTC)
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, OverflowError):  # overflow: the day after 9999-12-31
        example = "2026-12-31 or 2026-12-31T18:00:00+01:00"
        raise ValueError(f"unreadable date {text!r}: write {example}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add one, e.g. +01:00 or Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is beyond the last date loadgen can represent") from None
