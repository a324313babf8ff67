"""The simulated user population: who sends each event, and in which order a user's steps go.

Population: `count` users `f"{id_prefix}{k}"`, k = 0 .. count-1, drawn with a Zipf law of
exponent `skew`: user k gets a share proportional to (k+1)^-skew (user 0 is the hottest;
skew 0 is uniform). The draw for event slot `serial` is a pure function of (seed, serial),
so every worker of a distributed run picks the same user for the same request index.

Sampling without a `count`-sized table: the first `HEAD` ranks (65,536) use an exact
cumulative table (bisect); the ranks above it use the midpoint-rule integral of x^-skew,
sum_{r=a}^{b} r^-s ~ integral_{a-1/2}^{b+1/2} x^-s dx, inverted in closed form. A rank r > HEAD
then gets a probability within a relative skew*(skew+1)/(24*r^2) < 3e-9 (skew <= 10) of the
exact law, so populations up to 100,000,000 users are sampled in O(log HEAD) time and
~0.5 MB of memory. `expected_top_shares` and `hottest_user_share` use the same sums.

Journeys: each user starts anonymous (tracks carry an anonymous id derived from (seed, k)),
if the profile identifies users of that API at all (otherwise users are known from the start),
is identified (the identify links the anonymous id to the user id), then sends tracks with
the user id, and may be aliased. `Journeys` keeps one bit per user ("identified", at most
count/8 bytes, allocated on first use): a track before the user's identify is anonymous, and
an alias for a user not yet identified is built as that user's identify instead (counted in
`conversions`), so an alias is never generated before the identify it depends on. The state
is per process: in a distributed run each worker converts its own first alias of a user.
"""

from __future__ import annotations

import bisect
import math
from array import array
from functools import lru_cache

from loadgen.inputs.templates import mix62, uuid_string

HEAD = 1 << 16
_M64 = (1 << 64) - 1
_INV_2_53 = 1.0 / (1 << 53)
_SAMPLE_SALT = 0x5851F42D4C957F2D
_ANON_SALT = 0x1405_7B7E_F767_814F


def mix64(x: int) -> int:
    """splitmix64's finaliser: a well-mixed 64-bit hash (a bijection of 64-bit ints)."""
    x &= _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@lru_cache(maxsize=8)
def _head(count: int, skew: float) -> array[float]:
    """Cumulative sums of r^-skew for r = 1 .. min(count, HEAD)."""
    table, total = array("d"), 0.0
    for r in range(1, min(count, HEAD) + 1):
        total += r**-skew
        table.append(total)
    return table


def _tail_mass(a: float, x: float, skew: float) -> float:
    """integral_a^x t^-skew dt, accurate for skew near 1 (expm1 instead of a difference)."""
    if skew == 1.0:
        return math.log(x / a)
    e = 1.0 - skew
    return math.pow(a, e) * math.expm1(e * math.log(x / a)) / e


def _tail_inverse(a: float, mass: float, skew: float) -> float:
    """The x with integral_a^x t^-skew dt = mass."""
    if skew == 1.0:
        return a * math.exp(mass)
    e = 1.0 - skew
    arg = mass * e * math.pow(a, -e)
    if arg <= -1.0:  # rounding at u -> 1 with skew > 1: beyond the last rank
        return math.inf
    return a * math.exp(math.log1p(arg) / e)


def harmonic(k: int, skew: float) -> float:
    """sum_{r=1}^{k} r^-skew: exact up to HEAD, the midpoint integral beyond."""
    if k <= 0:
        return 0.0
    if skew == 0.0:
        return float(k)
    if k <= HEAD:  # summed in the same order as the sampler's table: identical values
        total = 0.0
        for r in range(1, k + 1):
            total += r**-skew
        return total
    return _head(HEAD, skew)[-1] + _tail_mass(HEAD + 0.5, k + 0.5, skew)


def expected_top_shares(
    count: int, skew: float, tops: tuple[int, ...] = (1, 10, 100)
) -> dict[int, float]:
    """The share of all events the `k` hottest users send, for each k in `tops`."""
    total = harmonic(count, skew)
    return {k: min(1.0, harmonic(min(k, count), skew) / total) for k in tops}


def hottest_user_share(count: int, skew: float) -> float:
    """The share of all events the hottest user sends."""
    return 1.0 / harmonic(count, skew)


class Zipf:
    """Maps u in [0, 1) to a 0-based rank k with P(k) proportional to (k+1)^-skew."""

    __slots__ = ("_a", "_count", "_head", "_head_total", "_skew", "_total")

    def __init__(self, count: int, skew: float) -> None:
        if count < 1 or skew < 0:
            raise ValueError("a population needs count >= 1 and skew >= 0")
        self._count, self._skew = count, skew
        self._head = _head(min(count, HEAD), skew) if skew > 0 else array("d")
        self._head_total = self._head[-1] if skew > 0 else 0.0
        self._a = HEAD + 0.5
        tail = _tail_mass(self._a, count + 0.5, skew) if count > HEAD and skew > 0 else 0.0
        self._total = self._head_total + tail if skew > 0 else float(count)

    def rank(self, u: float) -> int:
        if self._skew == 0.0:
            return min(int(u * self._count), self._count - 1)
        target = u * self._total
        if target < self._head_total or self._count <= HEAD:
            return min(bisect.bisect_right(self._head, target), len(self._head) - 1)
        x = _tail_inverse(self._a, target - self._head_total, self._skew)
        if not x < self._count:  # also catches inf from rounding at the very end
            return self._count - 1
        return max(math.floor(x + 0.5), HEAD + 1) - 1


class Population:
    """The users of a run; pure functions of (seed, serial) and (seed, k)."""

    __slots__ = ("_anon_hi", "_anon_salt", "_prefix", "_salt", "_zipf", "count")

    def __init__(self, count: int, skew: float, id_prefix: str, seed: int) -> None:
        self.count = count
        self._prefix = id_prefix
        self._zipf = Zipf(count, skew)
        self._salt = mix64(seed ^ _SAMPLE_SALT)
        self._anon_salt = mix64(seed ^ _ANON_SALT) & ((1 << 62) - 1)
        self._anon_hi = mix64(seed + 1)

    def rank(self, serial: int) -> int:
        """The user (0-based) who sends event slot `serial`."""
        u = (mix64(serial ^ self._salt) >> 11) * _INV_2_53
        return self._zipf.rank(u)

    def user_id(self, k: int) -> str:
        return f"{self._prefix}{k}"

    def anon_id(self, k: int) -> str:
        """The user's anonymous id before identify: UUID-shaped, unique per user."""
        lo = mix62(k ^ self._anon_salt)
        return uuid_string(mix64(self._anon_hi ^ lo), lo)

    def alias_id(self, k: int) -> str:
        """The new id an alias/merge links to the user (never one of the population's ids)."""
        return f"{self._prefix}{k}-alias"


class Journeys:
    """Which users are identified yet: one bit per user, allocated on first use.

    `anonymous_stage` is False when the profile never identifies users of this API (e.g. a
    track-only import): its users are known from the start and tracks carry their user id.
    """

    __slots__ = ("_bits", "_count", "anonymous_stage", "conversions")

    def __init__(self, count: int, anonymous_stage: bool = True) -> None:
        self._count = count
        self._bits: bytearray | None = None
        self.anonymous_stage = anonymous_stage
        self.conversions = 0  # aliases built as the user's identify instead

    def anonymous(self, k: int) -> bool:
        """Whether a track by k now is still anonymous (k was not identified yet)."""
        return self.anonymous_stage and not self.identified(k)

    def identified(self, k: int) -> bool:
        bits = self._bits
        return bits is not None and bool(bits[k >> 3] & (1 << (k & 7)))

    def mark_identified(self, k: int) -> None:
        if self._bits is None:
            self._bits = bytearray((self._count + 7) // 8)
        self._bits[k >> 3] |= 1 << (k & 7)

    def alias_or_identify(self, k: int) -> bool:
        """True if an alias for k may be built now; else k becomes identified (a conversion)."""
        if self.identified(k):
            return True
        self.conversions += 1
        self.mark_identified(k)
        return False


__all__ = [
    "HEAD",
    "Journeys",
    "Population",
    "Zipf",
    "expected_top_shares",
    "harmonic",
    "hottest_user_share",
    "mix64",
]
