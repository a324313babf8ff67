"""Token buckets: one for a single key (with a clock), and a bounded map of them per key.

A bucket holds at most `burst` tokens, refills at `rate` tokens/s and starts full; a
request takes one token or is refused with the time until one is there. So in any window
of length t at most `burst + rate * t` requests pass (the property the tests check).
"""

from __future__ import annotations

from collections.abc import Callable

# A waiter told "t seconds" comes back after t and must find its token, although the
# refill `(now - last) * rate` can land a few ulps short of 1.0: it must not wait forever.
_ONE = 1.0 - 1e-9


class TokenBucket:
    """A single token bucket reading time from `clock` (seconds, monotonic)."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._last = clock()

    def take(self) -> float:
        """0.0 if a token was taken, else the seconds until one will be available."""
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if tokens >= _ONE:
            self._tokens = max(0.0, tokens - 1.0)
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self.rate


class KeyedBuckets:
    """One token bucket per key, with memory bounded however many keys pass through.

    State per key is `[tokens, last]`. When the map grows past its high-water mark, keys
    whose bucket has refilled to full are dropped: a full bucket is exactly what a new key
    gets, so forgetting it changes nothing. If more than `max_keys` keys are still active,
    the oldest-inserted are dropped too (their debt is forgiven: a rare undercount, the
    price of flat memory).
    """

    __slots__ = ("_high_water", "_state", "burst", "max_keys", "rate")

    def __init__(self, rate: float, burst: float, max_keys: int = 200_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._state: dict[str, list[float]] = {}
        self._high_water = min(1024, max_keys)

    def __len__(self) -> int:
        return len(self._state)

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """0.0 if `cost` tokens were taken for `key`, else seconds until they would be."""
        state = self._state.get(key)
        if state is None:
            if len(self._state) >= self._high_water:
                self._prune(now)
            state = self._state[key] = [self.burst, now]
        tokens = state[0] + (now - state[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        state[1] = now
        if tokens >= cost:
            state[0] = tokens - cost
            return 0.0
        state[0] = tokens
        return (cost - tokens) / self.rate

    def _prune(self, now: float) -> None:
        rate, burst = self.rate, self.burst
        self._state = {
            key: st for key, st in self._state.items() if st[0] + (now - st[1]) * rate < burst
        }
        # Past the cap, drop a tenth at once so the next prune is many inserts away.
        excess = len(self._state) - (self.max_keys - max(1, self.max_keys // 10))
        if excess > 0:
            for key in list(self._state)[:excess]:
                del self._state[key]
        # Prune again only after the map doubles, so the cost per insert stays constant.
        self._high_water = min(max(1024, 2 * len(self._state)), self.max_keys)

    def clear(self) -> None:
        self._state.clear()
        self._high_water = min(1024, self.max_keys)
