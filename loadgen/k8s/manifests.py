"""The Kubernetes objects of a fleet, as plain dicts: a ConfigMap of its files and an
Indexed Job whose pod i runs segment (i+1)/N of the schedule from one start time fixed at
render time (no starter pod, no coordinator: the union of the segments is the schedule).

Why each Job setting (the runbook, docs/kubernetes.md, says more):
- `completionMode: Indexed`, completions = parallelism = N: every segment runs once, all
  at the same time; the index comes from `JOB_COMPLETION_INDEX`.
- `podFailurePolicy`: loadgen's verdicts (thresholds failed, refused, safety stop, invalid
  input, usage) fail the Job at once, since a retry would give the same verdict (and load
  the target again); a node drain or preemption (DisruptionTarget) is not counted against
  `backoffLimit`; anything else is infrastructure, retried a few times.
- restartPolicy Never: required by podFailurePolicy, and a restarted container would
  rerun its segment late.
"""

from __future__ import annotations

import base64
import math
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loadgen.errors import ExitCode
from loadgen.k8s.config_files import ConfigFile

CONTAINER = "loadgen"
CONFIG_DIR = "/config"
RESULTS_DIR = "/results"
# loadgen's verdicts: retrying one would reach the same verdict, so the Job fails on them
VERDICT_EXIT_CODES = (
    ExitCode.USAGE,
    ExitCode.INVALID_INPUT,
    ExitCode.REFUSED,
    ExitCode.SAFETY_STOP,
    ExitCode.THRESHOLDS_FAILED,
)
BACKOFF_LIMIT = 2  # infrastructure failures only (image pull, OOM, node lost)
DEADLINE_MARGIN_S = 600  # pod scheduling, image pull, the grace period, the artifact write
TTL_AFTER_FINISHED_S = 86_400  # a day to read the pods' logs and status before cleanup
RUN_AS_USER = 10_001  # the image's non-root user (numeric: runAsNonRoot needs a number)


@dataclass(frozen=True, slots=True)
class Fleet:
    """What one rendering describes: the Job, its pods and where they read and write."""

    job: str
    parallelism: int
    image: str
    namespace: str | None
    target: str
    profile_file: str  # its name under /config
    start_at: datetime  # UTC, whole seconds
    rendered_at: datetime
    duration_s: float  # the schedule's
    secret: str
    credential_vars: tuple[str, ...]  # the env var names the target reads, never values
    results_pvc: str | None  # None: an emptyDir, lost with the pod

    @property
    def config_map(self) -> str:
        return f"{self.job}-config"

    def labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": "loadgen",
            "app.kubernetes.io/instance": self.job,
            "app.kubernetes.io/component": "load-generator",
            "app.kubernetes.io/managed-by": "loadgen-k8s-render",
        }

    def metadata(self, name: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if self.namespace:
            meta["namespace"] = self.namespace
        meta["labels"] = self.labels()
        return meta


def start_at_text(moment: datetime) -> str:
    """The start time as every pod is given it: ISO 8601 UTC with a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def part_glob(fleet: Fleet) -> str:
    return f"{RESULTS_DIR}/{fleet.job}-part-*.json"


def merge_command(fleet: Fleet) -> str:
    return f"loadgen merge {part_glob(fleet)} -o merged.json"


def pod_command(fleet: Fleet) -> str:
    """The shell line of pod i: segment (i+1)/N, its own artifact; `exec` so that the
    kubelet's SIGTERM reaches loadgen (which then writes its results) and not the shell."""
    n = fleet.parallelism
    part = "$((JOB_COMPLETION_INDEX+1))"
    words = [
        "loadgen",
        "run",
        shlex.quote(f"{CONFIG_DIR}/{fleet.profile_file}"),
        "--target",
        shlex.quote(fleet.target),
        "--targets",
        f"{CONFIG_DIR}/targets.toml",
        "--segment",
        f"{part}/{n}",
        "--start-at",
        start_at_text(fleet.start_at),
        "--out",
        f"{RESULTS_DIR}/{fleet.job}-part-{part}.json",
        "--quiet",
        # a slice's thresholds are recorded, not judged: `loadgen merge` gives the fleet's
        # one verdict (a pod exiting 99 would fail the whole Job through podFailurePolicy)
        "--no-thresholds-exit",
    ]
    return "exec " + " ".join(words)


def config_map(fleet: Fleet, files: list[ConfigFile]) -> dict[str, Any]:
    data = {f.key: f.text for f in files if f.text is not None}
    binary = {f.key: base64.b64encode(f.content).decode() for f in files if f.text is None}
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": fleet.metadata(fleet.config_map),
        "data": data,
    }
    if binary:
        manifest["binaryData"] = binary
    return manifest


def job(fleet: Fleet, files: list[ConfigFile]) -> dict[str, Any]:
    lead_s = max(0.0, (fleet.start_at - fleet.rendered_at).total_seconds())
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": fleet.parallelism,
        "parallelism": fleet.parallelism,
        "backoffLimit": BACKOFF_LIMIT,
        # counted from the Job's start, which is after rendering: on the safe side
        "activeDeadlineSeconds": math.ceil(lead_s + fleet.duration_s + DEADLINE_MARGIN_S),
        "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
        "podFailurePolicy": pod_failure_policy(),
        "template": {"metadata": {"labels": fleet.labels()}, "spec": pod_spec(fleet, files)},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": fleet.metadata(fleet.job),
        "spec": spec,
    }


def pod_failure_policy() -> dict[str, Any]:
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": sorted(int(code) for code in VERDICT_EXIT_CODES),
                },
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def pod_spec(fleet: Fleet, files: list[ConfigFile]) -> dict[str, Any]:
    return {
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,  # so that the pod may write to the results volume
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(fleet)],
        "volumes": volumes(fleet, files),
    }


def container(fleet: Fleet) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "TMPDIR", "value": "/tmp"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]
    env += [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": fleet.secret, "key": var}}}
        for var in fleet.credential_vars
    ]
    one_core = {"cpu": "1", "memory": "1Gi"}  # loadgen's loop runs on one core
    return {
        "name": CONTAINER,
        "image": fleet.image,
        "command": ["sh", "-c"],
        "args": [pod_command(fleet)],
        "env": env,
        "resources": {"requests": dict(one_core), "limits": dict(one_core)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "results", "mountPath": RESULTS_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def volumes(fleet: Fleet, files: list[ConfigFile]) -> list[dict[str, Any]]:
    items = [{"key": f.key, "path": f.mount_path} for f in files]
    results: dict[str, Any] = (
        {"persistentVolumeClaim": {"claimName": fleet.results_pvc}}
        if fleet.results_pvc
        else {"emptyDir": {}}
    )
    return [
        {"name": "config", "configMap": {"name": fleet.config_map, "items": items}},
        {"name": "results", **results},
        {"name": "tmp", "emptyDir": {}},
    ]
