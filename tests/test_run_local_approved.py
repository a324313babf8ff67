"""The embedded mock stands for the workspace: an approved run against `local` is not cut
short by the mock's default 100 req/s, and a safety stop on 429s says whose they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.inputs.targets import BUILTIN_LOCAL, Target
from loadgen.metrics import RunMetrics
from loadgen.mock.process import LocalMock
from loadgen.run.options import RunOptions
from loadgen.run.runner import _where_429s_came_from
from tests.run_support import (
    cli,
    profile,
    read_checked,
    start,
    wait_until,
    write_profile,
    write_targets,
    write_toml,
)
from tests.run_support import target as target_table
from tests.test_run_guarded import Approver, approver, sign

__all__ = ["approver"]  # the module-scoped key pair fixture, shared with test_run_guarded

# 10 -> 150 req/s in 14 s (the steepest ramp the guard allows: 10 req/s per second), then
# 3 s at the peak: 1,120 + 450 requests, far above the mock's default limit of 100 req/s
RAMP = [("14s", 150), ("3s", 150)]


def test_an_approved_run_above_100_rps_against_local_completes(
    tmp_path: Path, approver: Approver
) -> None:
    path = write_profile(
        tmp_path, profile("approved", start_rate=10, stages=RAMP, max_in_flight=500)
    )
    write_toml(
        tmp_path / "targets.toml",
        {"targets": {"local": {"trusted_keys": [approver.public_key]}}},
    )
    sign(approver, path, "local", 157)  # ~5 % above the peak, as the README advises
    out = tmp_path / "out.json"
    result = cli("run", path, "--out", out, "--quiet", timeout=120)
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    assert doc["status"] == "completed"
    totals = doc["totals"]
    assert totals["sent"] == totals["planned"] == 1570
    assert totals["status"].get("429", 0) == 0  # the mock's limit followed the approval
    assert doc["target"]["observed"]["by_status"] == {"200": 1570}


def test_a_safety_stop_on_429s_says_they_were_the_targets(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("limited", stages=[("2s", 20), ("20s", 20)]))
    with LocalMock(rps_limit=5) as mock:  # a workspace limit below what loadgen may send
        write_targets(tmp_path, strict=target_table(mock.url))
        run = start("run", path, "-t", "strict", "--out", tmp_path / "out.json", "--quiet")
        wait_until(lambda: mock.stats()["requests_total"] >= 5, 20, "5 requests at the mock")
        result = run.finish(timeout=60)
    assert result.returncode == 5, result.explain()
    reason = read_checked(tmp_path / "out.json")["status_reason"] or ""
    assert "429" in reason, reason
    assert "the 429s were the target's answers (its own rate limit; loadgen's cap: 100 req/s)" in (
        result.stderr
    ), result.stderr


def _metrics(statuses: list[int]) -> RunMetrics:
    metrics = RunMetrics(["s"])
    for status in statuses:
        metrics.record_response(0, 0.5, 1000, 1000, status, None)
    return metrics


REMOTE = Target(
    name="staging", url="https://x.example", api="posthog", transport="fast", environment="staging"
)

# (target, rate cap, statuses seen, what the reason gains)
SOURCES = [
    # approved local run: the mock's limit is the approved peak, and the message says so
    (BUILTIN_LOCAL, 157.0, [429], "(the embedded mock's workspace limit of 157 req/s)"),
    # a remote target: its own limit, next to the cap loadgen kept
    (REMOTE, 100.0, [429], "(its own rate limit; loadgen's cap: 100 req/s)"),
    # 5xx only: nothing to say about 429s
    (REMOTE, 100.0, [503], ""),
]


@pytest.mark.parametrize(("target", "cap", "statuses", "gains"), SOURCES)
def test_where_429s_came_from(target: Target, cap: float, statuses: list[int], gains: str) -> None:
    said = _where_429s_came_from(target, RunOptions(rate_cap=cap), _metrics(statuses))
    assert said.endswith(gains)
    assert bool(said) == bool(gains)


def test_targets_local_takes_trust_and_guard_settings_only(tmp_path: Path) -> None:
    from loadgen.errors import TargetError
    from loadgen.inputs.targets import load_targets

    good = write_toml(
        tmp_path / "good.toml",
        {"targets": {"local": {"trusted_keys": ["k"], "workspace_rps_limit": 50}}},
    )
    local = load_targets(good)["local"]
    assert local.is_local and local.trusted_keys == ("k",)
    assert local.limits.workspace_rps_limit == 50
    bad = write_toml(tmp_path / "bad.toml", {"targets": {"local": {"url": "http://x"}}})
    with pytest.raises(TargetError, match=r"targets\.local\.url"):
        load_targets(bad)
