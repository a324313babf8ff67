"""Which scenario request n belongs to: deterministic, weighted and evenly interleaved.

Request n goes to the scenario whose share of [0, 1) holds frac(n * (sqrt(5) - 1) / 2),
a golden-ratio sequence. It depends only on n, so every worker of a distributed run
agrees on it without talking, and it is independent of the van der Corput striping
that splits indices between workers, so each worker still gets the full mix.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

GOLDEN = 0.6180339887498949


class ScenarioMix:
    """Which scenario request n runs: a deterministic function of n and the weights, the
    same on every worker, so the segments of one schedule together keep the profile's mix."""

    def __init__(self, weights: Sequence[float]) -> None:
        if not weights or any(w <= 0 for w in weights):
            raise ValueError("scenario weights must be positive and non-empty")
        total = float(sum(weights))
        edges, running = [], 0.0
        for weight in weights[:-1]:
            running += weight
            edges.append(running / total)
        self._edges = edges
        self.shares = tuple(w / total for w in weights)

    def pick(self, n: int) -> int:
        """The index of the scenario that request n (1-based) runs."""
        return bisect.bisect_right(self._edges, (n * GOLDEN) % 1.0)
