"""Batches in file order within the API's limits, and the ordering rule between them.

Pure logic, no I/O and no clock (tested with tables and hypothesis):

- `cut_batches` groups mapped records, in file order, into batches of at most
  `batch_size` events and `max_bytes` of body. It also closes a batch before an alias or
  merge whose id was identified inside it: the identify must be *accepted* before the
  alias is sent, and it is only accepted when its whole batch is.
- `KeyLocks` holds the distinct_ids of the batches in flight. A batch is sent only when
  none of its ids is held, and batches are offered in file order, so the events of one
  distinct_id reach the server in file order and never in two batches at once (the
  pipeline's partition ordering). The price is head-of-line waiting behind a hot id,
  which is what ordering costs anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# The envelope around the events of a batch (api_key, historical_migration, sentAt, ...).
ENVELOPE_BYTES = 1024
DEPENDENT_KINDS = frozenset({"alias", "merge"})


@dataclass(frozen=True, slots=True)
class Item:
    """One mapped record: where it is in the file, its body, size and ordering keys."""

    line: int
    end: int
    body: dict[str, Any]
    kind: str
    keys: frozenset[str]
    size: int
    wire_path: str = ""  # where it goes alone (APIs without a batch endpoint)
    wire_method: str = "POST"


@dataclass(slots=True)
class Batch:
    """Records sent in one request, in file order; `keys` is the union of their keys."""

    items: list[Item] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    size: int = ENVELOPE_BYTES
    identified: set[str] = field(default_factory=set)

    def fits(self, item: Item, batch_size: int, max_bytes: int) -> bool:
        if not self.items:
            return True
        if len(self.items) >= batch_size or self.size + item.size + 1 > max_bytes:
            return False
        # an alias/merge waits for the identify of its ids to be accepted: next batch
        return not (item.kind in DEPENDENT_KINDS and item.keys & self.identified)

    def add(self, item: Item) -> None:
        self.items.append(item)
        self.keys |= item.keys
        self.size += item.size + 1  # the comma
        if item.kind == "identify":
            self.identified |= item.keys

    @property
    def lines(self) -> list[int]:
        return [item.line for item in self.items]


def cut_batches(items: Iterable[Item], batch_size: int, max_bytes: int) -> Iterator[Batch]:
    """Batches of `items` in order, each within `batch_size` events and `max_bytes`."""
    batch = Batch()
    for item in items:
        if not batch.fits(item, batch_size, max_bytes):
            yield batch
            batch = Batch()
        batch.add(item)
    if batch.items:
        yield batch


class KeyLocks:
    """The distinct_ids held by batches in flight."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: set[str] = set()

    def free(self, keys: set[str]) -> bool:
        return self._held.isdisjoint(keys)

    def claim(self, keys: set[str]) -> None:
        if not self.free(keys):
            raise ValueError("a batch claimed a distinct_id already in flight")
        self._held |= keys

    def release(self, keys: set[str]) -> None:
        self._held -= keys

    def __len__(self) -> int:
        return len(self._held)


__all__ = ["DEPENDENT_KINDS", "ENVELOPE_BYTES", "Batch", "Item", "KeyLocks", "cut_batches"]
