"""Human durations (`"90s"`, `"5m"`, `"1h30m"`, `"250ms"`) to seconds and back."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", re.ASCII)  # "٣s" is no duration
MAX_DURATION_S = 7 * 86400.0  # a week: anything longer is a typo, not a load test


class DurationError(ValueError):
    """A duration string that cannot be read; the message says what is accepted."""


def parse_duration(value: object, maximum: float = MAX_DURATION_S) -> float:
    """Seconds in `value`: a string like "1h30m" or a plain number of seconds."""
    if isinstance(value, bool):
        raise DurationError('expected a duration like "90s", "5m" or "1h30m"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    else:
        raise DurationError('expected a duration like "90s", "5m" or "1h30m"')
    if not math.isfinite(seconds) or seconds < 0:
        raise DurationError("a duration must be a finite number of seconds, zero or more")
    if seconds > maximum:
        raise DurationError(f"a duration must be at most {format_duration(maximum)}")
    return seconds


def _parse_text(text: str) -> float:
    if not text:
        raise DurationError('empty duration; write e.g. "30s"')
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise DurationError(
            'unreadable duration; use numbers with units ms, s, m, h, d, e.g. "90s" or "1h30m"'
        )
    return total


def format_duration(seconds: float) -> str:
    """A compact human form: 0.25 -> "250ms", 5400 -> "1h30m", 90 days -> "90d"."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{int(days)}d")
    if hours:
        parts.append(f"{int(hours)}h")
    if minutes:
        parts.append(f"{int(minutes)}m")
    if secs or not parts:
        parts.append(f"{round(secs, 3):g}s")
    return "".join(parts)
