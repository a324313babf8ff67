"""When the generator, not the target, was the bottleneck: the verdict table and the
per-second CPU watch that catches a saturated stretch inside a calm average."""

from __future__ import annotations

import pytest

from loadgen.results.artifact import generator_verdict
from loadgen.run.cpuwatch import CpuWatch

# (avg cpu, lag p99 ms, peak cpu, dropped share, bottleneck?, words in the reason)
VERDICTS = [
    (40, 1.0, None, 0.0, False, None),  # calm run
    (40, 10.5, None, 0.0, True, "scheduler lag"),  # late starts alone
    (91, 1.0, None, 0.0, True, "CPU"),  # saturated on average
    (57, 3.0, 96, 0.0, True, "96 % CPU at its busiest"),  # calm average, saturated seconds
    (57, 3.0, 85, 0.044, True, "4.4% of arrivals were dropped"),  # drops while busy
    (20, 1.0, 30, 0.2, False, None),  # drops with an idle generator: the target was slow
    (57, 3.0, 85, 0.0005, False, None),  # a few drops (under 0.1 %) are noise
]


@pytest.mark.parametrize(("cpu", "lag", "peak", "dropped", "verdict", "words"), VERDICTS)
def test_generator_verdict(
    cpu: float, lag: float, peak: float | None, dropped: float, verdict: bool, words: str | None
) -> None:
    bottleneck, reason = generator_verdict(cpu, lag, cpu_peak_percent=peak, dropped_share=dropped)
    assert bottleneck is verdict
    if words is None:
        assert reason is None
    else:
        assert reason is not None
        assert words in reason


def test_cpu_watch_peak_is_the_busiest_window_mean() -> None:
    watch = CpuWatch(window=3)
    for sample in (10, 20):
        watch.add(sample)
    assert watch.peak_percent is None  # fewer samples than a window: no peak yet
    for sample in (90, 100, 95, 10):
        watch.add(sample)
    assert watch.peak_percent == pytest.approx(95.0)  # (90 + 100 + 95) / 3
