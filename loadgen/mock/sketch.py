"""Bounded-memory counting for millions of ids: exact while small, sketches beyond.

- `IdCounter` counts events per distinct_id. Exact (a dict) while it has seen fewer than
  `exact_limit` ids (default 100,000); past that it keeps the `capacity` hottest ids in a
  Space-Saving summary (Metwally et al.: each reported count is at most `error` above the
  truth, and every id more frequent than total/capacity is guaranteed to be in it) and
  estimates the number of unique ids with a HyperLogLog (2^14 registers, ~0.8% error).
  Memory then stays flat however many ids pass through.
- `IdSet` remembers which ids were identified: exact up to `exact_limit`, then a Bloom
  filter (8 MiB, 5 hashes: ~0.2% false positives at 10M ids). A false positive can only
  hide an ordering violation, never invent one.

Hashes come from Python's `hash()` of the string: cached on the string object, so cheap,
and well mixed (SipHash); only meaningful inside one process, which is all we need.
"""

from __future__ import annotations

import heapq
import math

_MASK64 = (1 << 64) - 1


class SpaceSaving:
    """The `capacity` most frequent items of a stream, with per-item overestimation bounds."""

    __slots__ = ("_heap", "capacity", "counts", "errors")

    def __init__(self, capacity: int, seed: dict[str, int] | None = None) -> None:
        self.capacity = capacity
        top = heapq.nlargest(capacity, (seed or {}).items(), key=lambda kv: kv[1])
        self.counts: dict[str, int] = dict(top)
        self.errors: dict[str, int] = dict.fromkeys(self.counts, 0)
        # One heap entry per tracked item; an entry's count may lag behind (counts only
        # grow), so eviction re-checks the top before trusting it.
        self._heap = [(count, item) for item, count in self.counts.items()]
        heapq.heapify(self._heap)

    def add(self, item: str, n: int = 1) -> None:
        counts = self.counts
        current = counts.get(item)
        if current is not None:
            counts[item] = current + n
            return
        if len(counts) < self.capacity:
            counts[item], self.errors[item] = n, 0
            heapq.heappush(self._heap, (n, item))
            return
        heap = self._heap
        while True:
            low, victim = heap[0]
            actual = counts[victim]
            if actual == low:
                break
            heapq.heapreplace(heap, (actual, victim))
        del counts[victim], self.errors[victim]
        counts[item], self.errors[item] = low + n, low
        heapq.heapreplace(heap, (low + n, item))

    def top(self, n: int) -> list[tuple[str, int, int]]:
        """The n largest as (item, count, error): the true count is in [count-error, count]."""
        best = heapq.nlargest(n, self.counts.items(), key=lambda kv: kv[1])
        return [(item, count, self.errors[item]) for item, count in best]


class HyperLogLog:
    """Approximate count of distinct strings in 16 KiB (p = 14, standard error ~0.81%)."""

    __slots__ = ("_registers",)
    P = 14
    M = 1 << P

    def __init__(self) -> None:
        self._registers = bytearray(self.M)

    def add(self, item: str) -> None:
        h = hash(item) & _MASK64
        index = h >> (64 - self.P)
        rest = (h << self.P) & _MASK64
        rank = 64 - rest.bit_length() + 1 if rest else 64 - self.P + 1
        if rank > self._registers[index]:
            self._registers[index] = rank

    def estimate(self) -> int:
        m = self.M
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / sum(2.0**-r for r in self._registers)
        zeros = self._registers.count(0)
        if raw <= 2.5 * m and zeros:
            return round(m * math.log(m / zeros))  # linear counting is better when small
        return round(raw)


class BloomFilter:
    """A fixed-size Bloom filter over strings (double hashing on one 64-bit hash)."""

    __slots__ = ("_bits", "_hashes", "_m")

    def __init__(self, bits: int = 1 << 26, hashes: int = 5) -> None:
        self._m, self._hashes = bits, hashes
        self._bits = bytearray(bits // 8)

    def _positions(self, item: str) -> list[int]:
        h = hash(item) & _MASK64
        h1, h2 = h & 0xFFFFFFFF, (h >> 32) | 1
        return [(h1 + i * h2) % self._m for i in range(self._hashes)]

    def add(self, item: str) -> None:
        bits = self._bits
        for pos in self._positions(item):
            bits[pos >> 3] |= 1 << (pos & 7)

    def __contains__(self, item: str) -> bool:
        bits = self._bits
        return all(bits[pos >> 3] & (1 << (pos & 7)) for pos in self._positions(item))


class IdSet:
    """A set of ids: exact up to `exact_limit` members, then a Bloom filter (see module doc)."""

    __slots__ = ("_bloom", "_exact", "exact_limit")

    def __init__(self, exact_limit: int = 100_000) -> None:
        self.exact_limit = exact_limit
        self._exact: set[str] | None = set()
        self._bloom: BloomFilter | None = None

    @property
    def approximate(self) -> bool:
        return self._bloom is not None

    def add(self, item: str) -> None:
        if self._exact is not None:
            self._exact.add(item)
            if len(self._exact) >= self.exact_limit:
                self._bloom = BloomFilter()
                for member in self._exact:
                    self._bloom.add(member)
                self._exact = None
        elif self._bloom is not None:
            self._bloom.add(item)

    def __contains__(self, item: str) -> bool:
        if self._exact is not None:
            return item in self._exact
        return self._bloom is not None and item in self._bloom


class IdCounter:
    """Events per distinct_id: exact below `exact_limit` ids, then top-k + HyperLogLog."""

    __slots__ = ("_exact", "_hll", "_top", "capacity", "exact_limit", "total")

    def __init__(self, exact_limit: int = 100_000, capacity: int = 1000) -> None:
        self.exact_limit, self.capacity = exact_limit, capacity
        self.total = 0
        self._exact: dict[str, int] | None = {}
        self._top: SpaceSaving | None = None
        self._hll: HyperLogLog | None = None

    @property
    def exact(self) -> bool:
        return self._exact is not None

    def add(self, item: str) -> None:
        self.total += 1
        exact = self._exact
        if exact is not None:
            exact[item] = exact.get(item, 0) + 1
            if len(exact) >= self.exact_limit:
                self._switch_to_sketch(exact)
        elif self._top is not None and self._hll is not None:
            self._top.add(item)
            self._hll.add(item)

    def _switch_to_sketch(self, exact: dict[str, int]) -> None:
        # Keeping the top `capacity` exact counts (error 0) preserves Space-Saving's
        # invariant: every dropped id's count is at most the smallest kept one.
        self._top = SpaceSaving(self.capacity, exact)
        self._hll = HyperLogLog()
        for item in exact:
            self._hll.add(item)
        self._exact = None

    def unique(self) -> int:
        if self._exact is not None:
            return len(self._exact)
        return self._hll.estimate() if self._hll is not None else 0

    def top(self, n: int) -> list[tuple[str, int, int]]:
        """The n hottest ids as (id, count, error); error is 0 while counting exactly."""
        if self._exact is not None:
            best = heapq.nlargest(n, self._exact.items(), key=lambda kv: kv[1])
            return [(item, count, 0) for item, count in best]
        return self._top.top(n) if self._top is not None else []
