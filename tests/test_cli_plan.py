"""`loadgen plan` end to end through the real entry points, and the exit-code contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.profile_text import profile_text, write

ROOT = Path(__file__).parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plan_json_has_the_documented_keys() -> None:
    result = run("plan", "profiles/ramp.toml", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["peak_rps"] == 80
    assert plan["duration_s"] == 17 * 60
    # 0->80 over 300 s (12,000) + 80 for 600 s (48,000) + 80->0 over 120 s (4,800)
    assert plan["total_requests"] == 64_800
    assert plan["total_events"] == 64_800
    assert [s["end_rps"] for s in plan["stages"]] == [80, 80, 0]


def test_plan_counts_batched_events() -> None:
    plan = json.loads(run("plan", "profiles/import.toml", "--json").stdout)
    assert plan["total_events"] == plan["total_requests"] * 100


def test_plan_text_shows_stages_totals_and_chart() -> None:
    result = run("plan", "profiles/demo.toml")
    assert result.returncode == 0, result.stderr
    for words in (
        "peak rate",
        "total duration",
        "total requests",
        "total events",
        "scenario mix",
        "requests/s over time",
        "█",
    ):
        assert words in result.stdout


def test_invalid_profile_exits_3_with_every_problem(tmp_path: Path) -> None:
    bad = write(tmp_path, profile_text(stages=[("10s", -1), ("x", 5)]))
    result = run("plan", str(bad))
    assert result.returncode == 3
    assert "2 problems found" in result.stderr
    assert "load.stages[0].target" in result.stderr and "load.stages[1].duration" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_target_exits_3(tmp_path: Path) -> None:
    result = run("plan", "profiles/demo.toml", "--target", "nowhere")
    assert result.returncode == 3
    assert "unknown target 'nowhere'" in result.stderr


def test_bad_flag_exits_2() -> None:
    assert run("plan", "profiles/demo.toml", "--no-such-flag").returncode == 2


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "loadgen"
    result = subprocess.run([str(exe), "version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip()
