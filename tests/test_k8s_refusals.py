"""What `loadgen k8s render` refuses, through the real CLI: the guard judges the whole plan
(N pods together send the profile's own peak), at the fleet's start time; `local` cannot be
shared by a fleet; bad options are usage errors; files a ConfigMap cannot carry are named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loadgen.arrivals.plan import Plan
from loadgen.errors import ExitCode
from loadgen.guard.approvals import approval_path, keygen, sign, write_approval
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import load_targets
from loadgen.k8s.config_files import CONFIGMAP_LIMIT_BYTES
from tests.run_support import CliResult, cli, profile, scenario, write_profile, write_targets
from tests.run_support import target as target_table

PRIVATE, PUBLIC = keygen()
URL = "https://capture.example.com"  # never contacted: rendering sends nothing
# 150 req/s: over the 100 req/s limit, though each of 3 pods would send only 50
OVER_LIMIT = profile("over", start_rate=0, stages=[("15s", 150), ("10s", 150)])
SPIKE = profile("spike", start_rate=0, stages=[("1s", 90), ("10s", 90)])  # 0 -> 90 in 1 s


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_targets(tmp_path, staging=target_table(URL, trusted_keys=[PUBLIC]))
    return tmp_path


def render(path: Path, *extra: str, target: str = "staging") -> CliResult:
    return cli("k8s", "render", path, "-t", target, "-n", "3", "--image", "img:1", *extra)


def approve(workdir: Path, path: Path, max_rps: float, expires: datetime) -> None:
    """An approval of the profile as it is now, signed with the pipeline team's key."""
    plan = Plan.build(load_profile(path), load_targets(workdir / "targets.toml")["staging"])
    write_approval(sign(plan, max_rps, expires, "Pipeline Pat", PRIVATE), approval_path(path))


def test_a_fleet_over_the_limit_is_refused_though_each_pod_is_under_it(workdir: Path) -> None:
    result = render(write_profile(workdir, OVER_LIMIT))
    assert result.returncode == ExitCode.REFUSED, result.explain()
    assert "limit.workspace-rps" in result.stderr and "150 req/s" in result.stderr
    assert result.stdout == ""  # no manifest to apply by mistake


def test_a_fleet_scaled_past_its_approval_is_refused(workdir: Path) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    approve(workdir, path, 158, datetime.now(UTC) + timedelta(days=7))
    # "three pods, so three times the load": the approved 150 req/s becomes 450
    write_profile(workdir, {**OVER_LIMIT, "load": {**OVER_LIMIT["load"], "stages": [
        {"duration": "45s", "target": 450}, {"duration": "10s", "target": 450}]}})  # fmt: skip
    result = render(path)
    assert result.returncode == ExitCode.REFUSED, result.explain()
    assert "450 req/s" in result.stderr
    assert result.stdout == ""


def test_an_approved_fleet_renders_with_its_approval_in_the_config_map(workdir: Path) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    approve(workdir, path, 158, datetime.now(UTC) + timedelta(days=7))
    result = render(path)
    assert result.returncode == 0, result.explain()
    assert "  over.approval.json: |" in result.stdout
    assert "path: over.approval.json" in result.stdout  # beside the profile under /config


def test_an_approval_that_expires_before_the_start_is_refused(workdir: Path) -> None:
    path = write_profile(workdir, OVER_LIMIT)
    expires = datetime.now(UTC) + timedelta(hours=1)
    approve(workdir, path, 158, expires)
    later = (expires + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = render(path, "--start-at", later)
    assert result.returncode == ExitCode.REFUSED, result.explain()


def test_a_spike_is_refused(workdir: Path) -> None:
    result = render(write_profile(workdir, SPIKE))
    assert result.returncode == ExitCode.REFUSED, result.explain()
    assert "spike" in result.stderr


def test_the_local_target_is_refused(workdir: Path) -> None:
    result = render(write_profile(workdir, profile("alone")), target="local")
    assert result.returncode == ExitCode.USAGE, result.explain()
    assert "one shared target" in result.stderr and "its own mock" in result.stderr


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("-n", "0"), "--parallelism 0"),  # no pod at all
        (("-n", "1001"), "--parallelism 1001"),  # beyond the ceiling: a typo, not a plan
        (("-n", "-3"), "--parallelism -3"),  # negative
        (("--start-at", "2020-01-01T00:00:00Z"), "has passed"),  # pods would all start late
        (("--start-at", "2030-01-01T10:00:00"), "with its zone"),  # ambiguous without a zone
        (("--start-at", "tomorrow"), "ISO 8601"),  # not a time
        (("--start-in", "soon"), "--start-in"),  # not a duration
        (("--start-in", "1m", "--start-at", "2030-01-01T00:00:00Z"), "not both"),  # which one?
        (("--job-name", "Load_Test"), "--job-name"),  # not a DNS label
        (("--job-name", "a" * 53), "at most 52"),  # the pods' names would not fit
        (("--namespace", "-bad"), "--namespace"),  # not a DNS label
        (("--image", "my image"), "--image"),  # spaces: not an image reference
    ],
)
def test_bad_options_are_usage_errors(workdir: Path, extra: tuple[str, ...], says: str) -> None:
    path = write_profile(workdir, profile("opts"))
    result = render(path, *extra)  # a repeated option: the last one counts
    assert result.returncode == ExitCode.USAGE, result.explain()
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def replaying(workdir: Path, file: str) -> Path:
    spec = scenario("import", kind="batch", batch_size=2)
    spec["replay"] = {"file": file, "on_error": "fail"}
    return write_profile(workdir, profile("replaying", scenarios=[spec]))


def test_a_replay_file_too_big_for_a_config_map_is_refused_by_name(workdir: Path) -> None:
    line = b'{"event": "e", "distinct_id": "u1"}\n'
    (workdir / "huge.jsonl").write_bytes(line * (CONFIGMAP_LIMIT_BYTES // len(line) + 1))
    result = render(replaying(workdir, "huge.jsonl"))
    assert result.returncode == ExitCode.INVALID_INPUT, result.explain()
    assert "huge.jsonl" in result.stderr and "ConfigMap" in result.stderr


def test_a_replay_file_outside_the_profile_folder_is_refused(workdir: Path) -> None:
    (workdir.parent / "outside.jsonl").write_text('{"event": "e"}\n', encoding="utf-8")
    result = render(replaying(workdir, "../outside.jsonl"))
    assert result.returncode == ExitCode.INVALID_INPUT, result.explain()
    assert "replay.file" in result.stderr and "profile's folder" in result.stderr


def test_a_missing_replay_file_is_refused_at_its_line(workdir: Path) -> None:
    result = render(replaying(workdir, "absent.jsonl"))
    assert result.returncode == ExitCode.INVALID_INPUT, result.explain()
    assert "replaying.toml:" in result.stderr and "absent.jsonl" in result.stderr


def test_a_start_other_than_the_announced_one_is_warned_about(workdir: Path) -> None:
    announced = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    path = write_profile(workdir, profile("told", schedule={"start": announced}))
    told = announced.strftime("%Y-%m-%dT%H:%M:%SZ")
    early = render(path)  # the default: in 2 minutes, not tomorrow
    assert early.returncode == 0, early.explain()
    assert f"pass --start-at {told}" in early.stderr
    on_time = render(path, "--start-at", told)
    assert on_time.returncode == 0, on_time.explain()
    assert "announces [schedule] start" not in on_time.stderr
    assert f"--start-at {told}" in on_time.stdout  # what the pods are given


def test_a_profile_file_name_that_cannot_be_a_config_map_key_is_refused(workdir: Path) -> None:
    path = workdir / "my profile.toml"  # a space: not a ConfigMap key
    write_profile(workdir, profile("plain")).rename(path)
    result = render(path)
    assert result.returncode == ExitCode.USAGE, result.explain()
    assert "my profile.toml" in result.stderr and "rename it" in result.stderr
