"""The run-time rate cap holds in every sliding window of real send times, even when
many senders press on it at once (real time: a bounded 2-3 s test)."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from loadgen.ratecap import MARGIN_S, RateCap


async def _press(cap: RateCap, senders: int, per_sender: int) -> list[float]:
    times: list[float] = []

    async def sender() -> None:
        for _ in range(per_sender):
            async with cap:
                times.append(time.perf_counter())

    await asyncio.gather(*(sender() for _ in range(senders)))
    return sorted(times)


def _busiest(times: list[float], window_s: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("runner", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_never_more_than_the_cap_in_any_window(runner: object) -> None:
    times = runner(_press(RateCap(40), senders=20, per_sender=5))  # type: ignore[operator]
    assert len(times) == 100
    # The senders stamp their time a few µs after the cap stamps its own, so the
    # window is read 0.5 ms short of the cap's to keep that skew from counting.
    assert _busiest(times, 1.0 + MARGIN_S - 0.0005) <= 40


def test_rejects_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateCap(0)
