"""A fleet simulated on one machine: three processes given JOB_COMPLETION_INDEX 0, 1, 2, as
the Indexed Job's pods would be, run the rendered pod command from its ConfigMap with the
common start fixed at render time against one shared `loadgen serve`; `loadgen merge` then
gives the one verdict. The merged counts equal the mock's and a single-process run's, and
the slices' planned offsets are exactly the unsegmented schedule."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from loadgen.arrivals.schedule import ExecutionSegment
from loadgen.cli.arguments import load_plan
from loadgen.mock.process import LocalMock
from tests.run_support import (
    CREDENTIAL_ENV,
    ROOT,
    cli,
    profile,
    read_checked,
    scenario,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table

PODS = 3
# 1 -> 12 req/s over 2 s, then 3 s at 12 req/s, two scenarios so the mix is checked too
PROFILE = profile(
    "fleet",
    start_rate=1,
    stages=(("2s", 12), ("3s", 12)),
    scenarios=[scenario("track"), scenario("identify", kind="identify")],
    thresholds={"http_req_failed": ["rate<0.01"], "http_reqs": ["count>40"]},
)


def _pod_command(manifests: list[dict[str, Any]], config: Path, results: Path) -> str:
    """The Job's shell line, with the ConfigMap's files written to `config` and the
    volumes' mount points and the image's `loadgen` mapped onto this machine."""
    (config_map,) = [d for d in manifests if d["kind"] == "ConfigMap"]
    for key, text in config_map["data"].items():
        (config / key).write_text(text, encoding="utf-8")
    (job,) = [d for d in manifests if d["kind"] == "Job"]
    line: str = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    here = f"{shlex.quote(sys.executable)} -m loadgen"
    return (
        line.replace("/config/", f"{config}/")
        .replace("/results/", f"{results}/")
        .replace("exec loadgen ", f"exec {here} ", 1)
    )


def test_three_indexed_pods_on_one_machine_merge_into_the_single_run(tmp_path: Path) -> None:
    config, results = tmp_path / "config", tmp_path / "results"
    config.mkdir()
    results.mkdir()
    with LocalMock(rps_limit=0) as mock:
        write_targets(tmp_path, shared=target_table(mock.url, safety_error_ratio=1))
        path = write_profile(tmp_path, PROFILE)
        rendered = cli(
            "k8s",
            "render",
            path,
            "-t",
            "shared",
            "-n",
            str(PODS),
            "--image",
            "loadgen:test",
            "--start-in",
            "8s",
        )  # three start-ups on 2 cores
        assert rendered.returncode == 0, rendered.explain()
        line = _pod_command(list(yaml.safe_load_all(rendered.stdout)), config, results)
        pods = [
            subprocess.Popen(
                ["sh", "-c", line],
                env={**os.environ, **CREDENTIAL_ENV, "JOB_COMPLETION_INDEX": str(index)},
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index in range(PODS)
        ]
        for pod in pods:
            _, err = pod.communicate(timeout=120)
            assert pod.returncode == 0, err
        fleet_received = mock.stats()["requests_total"]
        single_out = tmp_path / "single.json"
        single = cli("run", path, "-t", "shared", "--out", single_out, "-q")
        assert single.returncode == 0, single.explain()
    parts = sorted(results.glob("*-part-*.json"))
    assert len(parts) == PODS
    merged_path = tmp_path / "merged.json"
    merged_run = cli("merge", *parts, "-o", merged_path, "-q")
    assert merged_run.returncode == 0, merged_run.explain()
    merged, whole = read_checked(merged_path), read_checked(single_out)
    assert merged["totals"]["sent"] == fleet_received == merged["totals"]["planned"]
    for key in ("planned", "sent", "completed", "dropped"):
        assert merged["totals"][key] == whole["totals"][key], key
    for name in whole["scenarios"]:
        assert merged["scenarios"][name]["count"] == whole["scenarios"][name]["count"], name
    assert len({read_checked(p)["run"]["start_at_agreed"] for p in parts}) == 1
    # one verdict for the fleet: `count>40` fails on every part (~16 each: the pods still
    # exit 0, --no-thresholds-exit) and holds on the merged 49
    assert all(not read_checked(p)["thresholds"][1]["passed"] for p in parts)
    assert [t["passed"] for t in merged["thresholds"]] == [True, True]
    assert cli("check", merged_path, "-q").returncode == 0

    plan = load_plan(path, "shared", tmp_path / "targets.toml")
    sliced = Counter(
        offset
        for i in range(1, PODS + 1)
        for _, offset in plan.schedule.offsets(ExecutionSegment.parse(f"{i}/{PODS}"))
    )
    assert sliced == Counter(offset for _, offset in plan.schedule.offsets())
