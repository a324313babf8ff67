"""`loadgen k8s render` through the real CLI: the manifests pass the Kubernetes schemas
(kubernetes-validate --strict, offline, two versions), keep the Job rules the schemas do
not check, and the rendered shell line gives pod i segment (i+1)/N and its own artifact."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from loadgen.k8s.manifests import VERDICT_EXIT_CODES
from tests.run_support import cli, profile, scenario, write_profile, write_targets
from tests.run_support import target as target_table

URL = "https://capture.example.com"  # never contacted: rendering sends nothing
IMAGE = "registry.example.com/loadgen:1.2.3"
# Versions kubernetes-validate ships schemas for: podFailurePolicy is beta (on by default)
# in 1.30 and GA from 1.31, so the manifests must pass both sides of that line.
KUBERNETES_VERSIONS = ("1.30.0", "1.32.0")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_targets(tmp_path, staging=target_table(URL))
    return tmp_path


def render(workdir: Path, *extra: str, name: str = "fleet", n: int = 4) -> list[dict[str, Any]]:
    path = write_profile(workdir, profile(name, stages=[("10s", 50), ("20s", 50)]))
    result = cli("k8s", "render", path, "-t", "staging", "-n", str(n), "--image", IMAGE, *extra)
    assert result.returncode == 0, result.explain()
    (workdir / "fleet.yaml").write_text(result.stdout, encoding="utf-8")
    return list(yaml.safe_load_all(result.stdout))


def the(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_manifests_pass_the_strict_kubernetes_schemas(workdir: Path, version: str) -> None:
    render(workdir, "--results-pvc", "loadgen-results", "--namespace", "load")
    validator = shutil.which("kubernetes-validate", path=os.path.dirname(sys.executable))
    assert validator is not None, "kubernetes-validate is in the dev extras"
    checked = subprocess.run(
        [validator, "--strict", "-k", version, str(workdir / "fleet.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("passed for resource") == 2, (
        checked.stdout
    )  # both documents were checked


def test_the_job_keeps_the_rules_the_schema_does_not_check(workdir: Path) -> None:
    job = the(render(workdir, n=5), "Job")["spec"]
    pod = job["template"]["spec"]
    assert job["completionMode"] in ("Indexed", "NonIndexed")  # the only two the API knows
    assert job["completionMode"] == "Indexed"  # each pod's segment comes from its index
    assert job["completions"] == 5  # Indexed needs completions: one per segment
    assert job["parallelism"] <= job["completions"]  # more would idle
    assert job["parallelism"] == 5  # all segments at once, or the union is not the schedule
    assert pod["restartPolicy"] == "Never"  # required with podFailurePolicy
    assert 0 < job["backoffLimit"] <= 3  # infrastructure retries only, few
    containers = {c["name"] for c in pod["containers"]}
    for rule in job["podFailurePolicy"]["rules"]:
        if "onExitCodes" in rule:
            assert rule["onExitCodes"]["containerName"] in containers  # a real container


def test_the_verdict_exit_codes_fail_the_job_and_disruptions_are_ignored(workdir: Path) -> None:
    rules = the(render(workdir), "Job")["spec"]["podFailurePolicy"]["rules"]
    fail_job = [r for r in rules if r["action"] == "FailJob"]
    assert [r["onExitCodes"]["operator"] for r in fail_job] == ["In"]
    assert set(fail_job[0]["onExitCodes"]["values"]) == {2, 3, 4, 5, 99}
    assert {int(c) for c in VERDICT_EXIT_CODES} == {2, 3, 4, 5, 99}
    ignored = [r for r in rules if r["action"] == "Ignore"]
    assert ignored == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]


@pytest.mark.parametrize("n", [1, 3, 7])
def test_pod_i_runs_segment_i_plus_one_of_n_with_its_own_artifact(workdir: Path, n: int) -> None:
    container = the(render(workdir, n=n), "Job")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sh", "-c"]
    line = container["args"][0]
    assert re.search(r"\bloadgen run ", line)
    echoed = line.replace("loadgen", "echo", 1)  # the command itself, not the paths after it
    runs = []
    for index in range(n):
        env = {"PATH": os.environ["PATH"], "JOB_COMPLETION_INDEX": str(index)}
        done = subprocess.run(
            ["sh", "-c", echoed], env=env, capture_output=True, text=True, check=True, timeout=10
        )
        runs.append(done.stdout.split())
    segments = [words[words.index("--segment") + 1] for words in runs]
    outs = [words[words.index("--out") + 1] for words in runs]
    starts = {words[words.index("--start-at") + 1] for words in runs}
    assert segments == [f"{i}/{n}" for i in range(1, n + 1)]
    assert len(set(outs)) == n
    assert all(o.startswith("/results/loadgen-fleet-part-") for o in outs)
    assert len(starts) == 1  # one start for all, fixed at render time
    assert all(w[:4] == ["run", "/config/fleet.toml", "--target", "staging"] for w in runs)
    assert all("--quiet" in w and "/config/targets.toml" in w for w in runs)


def test_credentials_come_from_the_secret_by_name_never_by_value(workdir: Path) -> None:
    secret_value = "phc_this_must_never_be_printed"
    path = write_profile(workdir, profile("creds"))
    result = cli(
        "k8s", "render", path, "-t", "staging", "-n", "2", "--image", IMAGE,
        "--secret", "capture-token",
        env={**os.environ, "LG_TEST_TOKEN": secret_value},
    )  # fmt: skip
    assert result.returncode == 0, result.explain()
    assert secret_value not in result.stdout + result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    env = the(docs, "Job")["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = [e for e in env if "valueFrom" in e]
    assert refs == [
        {
            "name": "LG_TEST_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "capture-token", "key": "LG_TEST_TOKEN"}},
        }
    ]
    assert "kubectl create secret generic capture-token --from-literal=LG_TEST_TOKEN=..." in (
        result.stdout
    )


def test_the_config_map_holds_the_profile_targets_and_replay_files(workdir: Path) -> None:
    (workdir / "data").mkdir()
    replay_text = '{"event": "e", "distinct_id": "u1"}\n'
    (workdir / "data" / "events.jsonl").write_text(replay_text, encoding="utf-8")
    replaying = scenario("import", kind="batch", batch_size=2)
    replaying["replay"] = {"file": "data/events.jsonl", "on_error": "fail"}
    path = write_profile(workdir, profile("replaying", scenarios=[replaying]))
    result = cli("k8s", "render", path, "-t", "staging", "-n", "2", "--image", IMAGE)
    assert result.returncode == 0, result.explain()
    docs = list(yaml.safe_load_all(result.stdout))
    config = the(docs, "ConfigMap")
    assert config["data"]["replaying.toml"] == path.read_text(encoding="utf-8")
    assert config["data"]["targets.toml"] == (workdir / "targets.toml").read_text("utf-8")
    assert config["data"]["replay-0-events.jsonl"] == replay_text
    volume = the(docs, "Job")["spec"]["template"]["spec"]["volumes"][0]
    assert {"key": "replay-0-events.jsonl", "path": "data/events.jsonl"} in volume["configMap"][
        "items"
    ]  # the profile's relative path still finds it under /config


def test_without_a_pvc_the_parts_go_to_an_empty_dir_with_a_warning(workdir: Path) -> None:
    path = write_profile(workdir, profile("nopvc"))
    result = cli("k8s", "render", path, "-t", "staging", "-n", "2", "--image", IMAGE)
    assert result.returncode == 0, result.explain()
    assert "emptyDir" in result.stderr and "--results-pvc" in result.stderr
    volumes = the(list(yaml.safe_load_all(result.stdout)), "Job")["spec"]["template"]["spec"][
        "volumes"
    ]
    assert {"name": "results", "emptyDir": {}} in volumes


def test_with_a_pvc_the_parts_go_to_the_claim_and_the_merge_command_is_printed(
    workdir: Path,
) -> None:
    docs = render(workdir, "--results-pvc", "loadgen-results")
    volumes = the(docs, "Job")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "results", "persistentVolumeClaim": {"claimName": "loadgen-results"}} in (
        volumes
    )
    text = (workdir / "fleet.yaml").read_text(encoding="utf-8")
    assert text.rstrip().endswith(
        "#   loadgen merge /results/loadgen-fleet-part-*.json -o merged.json"
    )


def test_the_pods_run_as_non_root_on_one_core_with_a_deadline(workdir: Path) -> None:
    job = the(render(workdir, "--start-in", "5m"), "Job")["spec"]
    pod = job["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"]["cpu"] == "1"
    # 5 min lead + the 30 s schedule + the margin, and not much more
    assert 300 + 30 < job["activeDeadlineSeconds"] <= 300 + 30 + 900
    assert job["ttlSecondsAfterFinished"] > 0
    labels = job["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "loadgen"
