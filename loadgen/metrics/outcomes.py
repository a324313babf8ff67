"""How one finished attempt is stored on the hot path: a single int "outcome code".

A response is its HTTP status; a transport error is `ERROR_BASE + index of its kind`; a
retry (attempt > 0) additionally has `RETRY_FLAG` set. The hot path appends one int; the
flush counts codes with `Counter` (C speed) and only the few distinct codes are decoded here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from loadgen.transport import ERROR_KINDS

STATUS_CLASSES: tuple[str, ...] = ("2xx", "3xx", "4xx", "429", "5xx", "other")
RETRY_FLAG = 1 << 20
ERROR_BASE = 1 << 24
KIND_CODES: dict[str, int] = {kind: ERROR_BASE + i for i, kind in enumerate(ERROR_KINDS)}
OTHER_ERROR_CODE = KIND_CODES["other"]
_CLASS_BY_HUNDRED = {2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


def status_class(status: int) -> str:
    """ "429" is its own class (rate limiting is the first signal ingestion APIs send), so
    "4xx" means every other 400-499; anything outside 200-599 is "other"."""
    if status == 429:
        return "429"
    return _CLASS_BY_HUNDRED.get(status // 100, "other")


def empty_status() -> dict[str, int]:
    return dict.fromkeys(STATUS_CLASSES, 0)


def empty_kinds() -> dict[str, int]:
    return dict.fromkeys(ERROR_KINDS, 0)


@dataclass(frozen=True, slots=True)
class Tally:
    """Finished attempts: `completed` got a response (counted by `status` class), `errors`
    got none (counted by `errors_by_kind`)."""

    completed: int
    errors: int
    status: dict[str, int]
    errors_by_kind: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "completed": self.completed,
            "errors": self.errors,
            "status": dict(self.status),
            "errors_by_kind": dict(self.errors_by_kind),
        }


class Outcomes:
    """Counts of outcome codes for one scenario (or a whole run), with the artifact's views."""

    __slots__ = ("codes",)

    def __init__(self, codes: Mapping[int, int] | None = None) -> None:
        self.codes: Counter[int] = Counter(codes or {})

    def add(self, codes: Iterable[int]) -> Counter[int]:
        """Count a batch of raw codes; returns the batch's own counts."""
        batch = Counter(codes)
        self.codes.update(batch)
        return batch

    def merge(self, other: Outcomes) -> None:
        self.codes.update(other.codes)

    def tally(self, retry: bool | None = None) -> Tally:
        """Counts over all attempts (retry=None), first attempts only (False) or retries
        only (True)."""
        status, kinds = empty_status(), empty_kinds()
        for code, count in self.codes.items():
            if retry is not None and bool(code & RETRY_FLAG) != retry:
                continue
            base = code & ~RETRY_FLAG
            if base >= ERROR_BASE:
                index = base - ERROR_BASE
                kinds[ERROR_KINDS[index] if index < len(ERROR_KINDS) else "other"] += count
            else:
                status[status_class(base)] += count
        return Tally(sum(status.values()), sum(kinds.values()), status, kinds)

    def status_codes(self) -> dict[str, int]:
        """Exact HTTP statuses (all attempts), keyed by the status as a string."""
        out: Counter[str] = Counter()
        for code, count in self.codes.items():
            base = code & ~RETRY_FLAG
            if base < ERROR_BASE:
                out[str(base)] += count
        return dict(sorted(out.items()))

    def retries(self) -> int:
        return sum(c for code, c in self.codes.items() if code & RETRY_FLAG)
