"""The guard through `loadgen run` (issue 5's acceptance): the approved peak holds at the
server with retries on, the safety stop ends a run whose target starts failing, and the
guard's refusals stop a run before anything is sent."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loadgen.mock.process import LocalMock
from tests.fault_servers import Channel, FaultServer, Reply, SeenRequest, responder
from tests.run_support import (
    CliResult,
    cli,
    expiry,
    max_in_window,
    profile,
    read_checked,
    start,
    wait_until,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table


@dataclass(frozen=True, slots=True)
class Approver:
    key: Path
    public_key: str


@pytest.fixture(scope="module")
def approver(tmp_path_factory: pytest.TempPathFactory) -> Approver:
    """A key pair made with `loadgen approve keygen` (the public key is printed on stdout)."""
    key = tmp_path_factory.mktemp("keys") / "pipeline.pem"
    result = cli("approve", "keygen", "--out", key)
    assert result.returncode == 0, result.explain()
    return Approver(key, result.stdout.strip().splitlines()[-1])


def sign(approver: Approver, profile_path: Path, target: str, max_rps: float) -> None:
    result = cli(
        "approve",
        "sign",
        profile_path,
        "--target",
        target,
        "--max-rps",
        str(max_rps),
        "--expires",
        expiry(),
        "--by",
        "Pipeline Pat",
        "--key",
        approver.key,
    )
    assert result.returncode == 0, result.explain()


@dataclass
class HalfRateLimited:
    """Answers half the requests 429 (Retry-After: 0), chosen by a seeded coin rather than
    every other one: two workers whose requests alternate at the server must each get about
    half, not one all of them. Records when each request arrived."""

    arrivals: list[float] = field(default_factory=list)
    coin: random.Random = field(default_factory=lambda: random.Random(20261202))

    async def __call__(self, request: SeenRequest, channel: Channel) -> bool:
        self.arrivals.append(time.monotonic())
        if self.coin.random() < 0.5:
            reply = Reply(429, (("Retry-After", "0"),), b'{"error":"rate limited"}')
        else:
            reply = Reply()
        await channel.send(reply.encode())
        return True


def capped_run(
    tmp_path: Path, approver: Approver, hold: str, *extra: str
) -> tuple[CliResult, HalfRateLimited]:
    """A 0 -> 100 req/s run approved at 100 against a server answering half its requests 429
    (retries on, so first attempts and retries ask ~150 req/s): only the cap keeps it at 100."""
    data = profile(
        "capped",
        start_rate=0,
        stages=[("1s", 100), (hold, 100)],
        max_in_flight=2000,
        users={"count": 100_000, "skew": 0.0},
        retries={"enabled": True, "max_retries": 1, "max_backoff": "200ms"},
    )
    path = write_profile(tmp_path, data)
    handler = HalfRateLimited()
    with FaultServer(handler) as server:
        tables = target_table(
            server.url,
            workspace_rps_limit=50,  # below the peak: the run needs the approval
            trusted_keys=[approver.public_key],
            max_slope_rps_per_s=100,  # lets 0 -> 100 ramp in 1 s, keeping the test short
            safety_error_ratio=0.9,  # 50 % 429s is this test's premise, not an outage
        )
        write_targets(tmp_path, capped=tables)
        sign(approver, path, "capped", 100)
        out = tmp_path / "out.json"
        return cli("run", path, "-t", "capped", "--out", out, "--quiet", *extra), handler


def test_approved_peak_holds_at_the_server_with_retries_on(
    tmp_path: Path, approver: Approver
) -> None:
    result, handler = capped_run(tmp_path, approver, "1.5s")
    assert result.returncode == 0, result.explain()
    doc = read_checked(tmp_path / "out.json")
    totals = doc["totals"]
    assert doc["status"] == "completed"
    assert totals["retries"] > 0 and totals["status"]["429"] > 0
    assert len(handler.arrivals) == totals["sent"]
    busiest = max_in_window(handler.arrivals, 1.0)
    # first attempts at 100 req/s plus retries ask for ~150 req/s: the cap is what holds
    # it (and at 80+ the window really pressed against the cap)
    assert 80 <= busiest <= 101, busiest


def test_safety_stop_ends_a_run_whose_target_starts_failing(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("failing", stages=[("2s", 20), ("6s", 20)]))
    planned_total = 141  # area of 1 -> 20 over 2 s (21) and 20 for 6 s (120)
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, mock=target_table(mock.url))  # default: 5 % over 10 s
        run = start("run", path, "-t", "mock", "--out", tmp_path / "out.json", "--quiet")
        wait_until(lambda: mock.stats()["requests_total"] >= 20, 20, "20 requests at the mock")
        mock.set_faults(error_rate=1.0)  # every request now gets a 503
        result = run.finish(timeout=30)
    assert result.returncode == 5, result.explain()
    assert "safety stop:" in result.stderr
    doc = read_checked(tmp_path / "out.json")
    assert doc["status"] == "aborted"
    reason = doc["status_reason"] or ""
    assert "503" in reason and "limit 5.0%" in reason, reason
    assert doc["totals"]["status"]["5xx"] > 0
    assert doc["totals"]["sent"] < planned_total


def _refused(result: CliResult, rule: str) -> None:
    assert result.returncode == 4, result.explain()
    assert "refused:" in result.stderr and rule in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_spike_profile_is_refused_naming_the_rule(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("spike", start_rate=50, stages=[("5s", 50)]))
    out = tmp_path / "out.json"
    result = cli("run", path, "--out", out)
    _refused(result, "spike.flat-at-peak")
    assert not out.exists()  # refused before the run: nothing sent, nothing written


@pytest.fixture
def over_limit(tmp_path: Path, approver: Approver) -> Iterator[tuple[Path, FaultServer]]:
    """A profile peaking at 12 req/s, and a server behind two targets, `staging` and
    `other`, that allow 10 req/s without an approval and trust the approver's key."""
    path = write_profile(tmp_path, profile("overlimit", start_rate=0, stages=[("1.5s", 12)]))
    with responder(Reply()) as server:
        keys = [approver.public_key]
        write_targets(
            tmp_path,
            staging=target_table(server.url, workspace_rps_limit=10, trusted_keys=keys),
            other=target_table(server.url, workspace_rps_limit=10, trusted_keys=keys),
        )
        yield path, server


def test_above_workspace_limit_without_approval_is_refused(
    tmp_path: Path, over_limit: tuple[Path, FaultServer]
) -> None:
    path, server = over_limit
    result = cli("run", path, "-t", "staging", "--out", tmp_path / "out.json")
    _refused(result, "limit.workspace-rps")
    assert server.requests_seen == 0


def test_above_workspace_limit_with_a_valid_approval_runs(
    tmp_path: Path, approver: Approver, over_limit: tuple[Path, FaultServer]
) -> None:
    path, server = over_limit
    sign(approver, path, "staging", 12)
    result = cli("run", path, "-t", "staging", "--out", tmp_path / "out.json", "--quiet")
    assert result.returncode == 0, result.explain()
    doc = read_checked(tmp_path / "out.json")
    assert doc["status"] == "completed"
    assert doc["totals"]["sent"] == server.requests_seen == 9  # area of 0 -> 12 over 1.5 s


def test_editing_an_approved_profile_voids_the_approval(
    tmp_path: Path, approver: Approver, over_limit: tuple[Path, FaultServer]
) -> None:
    path, server = over_limit
    sign(approver, path, "staging", 12)
    text = path.read_text(encoding="utf-8")
    # a comment changes no value: the approval still holds (checked without sending)
    path.write_text("# reviewed by the pipeline team\n" + text, encoding="utf-8")
    still_ok = cli("run", path, "-t", "staging", "--dry-run")
    assert still_ok.returncode == 0 and "guard: ok" in still_ok.stdout, still_ok.explain()
    path.write_text(text.replace("count = 1000", "count = 1001"), encoding="utf-8")
    edited = cli("run", path, "-t", "staging", "--out", tmp_path / "out.json")
    _refused(edited, "approval.profile-edited")
    assert "edited" in edited.stderr
    assert server.requests_seen == 0


def test_an_approval_for_another_target_is_refused(
    tmp_path: Path, approver: Approver, over_limit: tuple[Path, FaultServer]
) -> None:
    path, server = over_limit
    sign(approver, path, "other", 12)
    result = cli("run", path, "-t", "staging", "--out", tmp_path / "out.json")
    _refused(result, "approval.other-target")
    assert server.requests_seen == 0
