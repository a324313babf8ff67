"""The generator's own CPU, sampled once a second, so a run that saturated loadgen for a
few seconds is caught even when its average looks comfortable."""

from __future__ import annotations

import asyncio
import resource
import time
from collections import deque


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuWatch:
    """`peak_percent`: the highest mean CPU over `window` consecutive one-second samples."""

    def __init__(self, window: int = 3) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self.peak_percent: float | None = None

    def add(self, percent: float) -> None:
        self._samples.append(percent)
        if len(self._samples) == self._samples.maxlen:
            mean = sum(self._samples) / len(self._samples)
            self.peak_percent = max(self.peak_percent or 0.0, mean)

    async def run(self, interval_s: float = 1.0) -> None:
        """Sample until cancelled."""
        cpu, wall = process_cpu_s(), time.perf_counter()
        while True:
            await asyncio.sleep(interval_s)
            now_cpu, now_wall = process_cpu_s(), time.perf_counter()
            self.add(100.0 * (now_cpu - cpu) / max(now_wall - wall, 1e-9))
            cpu, wall = now_cpu, now_wall
