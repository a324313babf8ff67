"""The pure helpers bench_generator.py uses for `--workers N` and k6 (scripts/bench_peers.py):
the options, k6's verdict and summary, and the workers' report line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_peers as peers  # the scripts directory is not a package


def test_one_worker_adds_no_option() -> None:
    assert peers.worker_options(1) == []
    assert peers.worker_options(4) == ["--workers", "4"]


# (planned, made, dropped, failed, sustained, what the "no" says)
VERDICTS = [
    (1000, 1000, 0, 0, True, ""),  # every iteration made
    (1000, 980, 1, 0, True, ""),  # 98 % made and 0.1 % dropped: the edge still holds
    (1000, 979, 0, 0, False, "made 979 < 98 %"),  # fell behind
    (1000, 1000, 2, 0, False, "dropped 2 > 0.1 %"),  # k6 gave up on iterations
    (1000, 1000, 0, 3, False, "3 failed requests"),  # the server said no
]


@pytest.mark.parametrize(("planned", "made", "dropped", "failed", "ok", "said"), VERDICTS)
def test_k6_verdicts(
    planned: int, made: int, dropped: int, failed: int, ok: bool, said: str
) -> None:
    run = peers.K6Run(planned, made, dropped, failed, seconds=10.0, cpu_us=100.0)
    sustained, reasons = run.sustained()
    assert sustained == ok
    assert said in "; ".join(reasons)
    assert run.rps == made / 10.0


def test_the_k6_summary_counts_failures_as_its_rate_metric_passes() -> None:
    summary = {
        "metrics": {
            "iterations": {"count": 401, "rate": 200.3},
            "http_req_failed": {"passes": 2, "fails": 399, "value": 0.005},
            "dropped_iterations": {"count": 5, "rate": 2.5},
        }
    }
    assert peers.parse_k6_summary(summary) == (401, 5, 2)
    # no dropped_iterations metric at all: k6 leaves it out when none were dropped
    assert peers.parse_k6_summary({"metrics": {"iterations": {"count": 7}}}) == (7, 0, 0)


def test_the_k6_script_is_the_flat_open_model_at_the_rate() -> None:
    script = peers.k6_script("http://127.0.0.1:8080", 2500.4, 10.0, 256)
    assert 'executor: "constant-arrival-rate"' in script
    assert "rate: 2500," in script and 'duration: "10s"' in script
    assert "preAllocatedVUs: 256" in script and "maxVUs: 256" in script
    assert '"http://127.0.0.1:8080/i/v0/e/"' in script


def test_the_workers_line() -> None:
    assert "not measured" in peers.workers_line([], [1000.0], 2)
    line = peers.workers_line([1800.0, 2000.0, 2200.0], [1000.0], 2)
    assert "--workers 2 / one worker (req/s): 2.00" in line
