"""`loadgen k8s render`: a plan turned into the manifests of a fleet of N pods, after the
guard has judged the whole plan (the segments together send the profile's own peak, so
the approval must cover the whole of it, exactly as for one machine)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loadgen.apis import credential_keys
from loadgen.arrivals.plan import Plan
from loadgen.errors import GuardRefusal, Problem, TargetError, UsageError
from loadgen.k8s import manifests
from loadgen.k8s.config_files import gather

MAX_PARALLELISM = 1000
START_TOLERANCE_S = 60.0  # a fleet starting within a minute of the announced start is on time
MAX_JOB_NAME = 52  # leaves room for `-config`, `-credentials` and the pods' `-<index>-xxxxx`
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class RenderOptions:
    parallelism: int
    image: str
    start_at: datetime  # UTC
    now: datetime
    job: str | None = None  # default: loadgen-<profile name>
    namespace: str | None = None
    results_pvc: str | None = None
    secret: str | None = None  # default: <job>-credentials


@dataclass(frozen=True, slots=True)
class Rendered:
    yaml: str
    warnings: tuple[str, ...]  # for stderr: the guard's findings, the emptyDir caveat
    fleet: manifests.Fleet


def render(
    plan: Plan, targets_file: Path | None, options: RenderOptions, approval_file: Path
) -> Rendered:
    """The fleet's manifests as multi-document YAML; refuses what a fleet cannot run."""
    from loadgen.guard.findings import render as render_findings
    from loadgen.guard.lint import preflight

    check_options(options)
    if plan.target.is_local or targets_file is None:
        raise UsageError(
            "a fleet needs one shared target: with `local` each pod would start its own "
            "mock; pass --target NAME of a target in targets.toml"
        )
    # judged at the start time: that is when the approval must still hold
    verdict = preflight(plan, now=options.start_at)
    if verdict.refused:
        raise GuardRefusal(verdict.refusal_message())
    warnings = [render_findings(list(verdict.findings), "text", 1)] if verdict.findings else []
    files = gather(plan.profile, targets_file, approval_file)
    fleet = build_fleet(plan, options)
    if fleet.results_pvc is None:
        warnings.append(EMPTYDIR_WARNING)
    warnings += announced_start_warning(plan, options.start_at)
    docs = [manifests.config_map(fleet, files), manifests.job(fleet, files)]
    return Rendered(header(fleet) + dump_yaml(docs) + footer(fleet), tuple(warnings), fleet)


EMPTYDIR_WARNING = (
    "warning: no --results-pvc: each pod writes its part to an emptyDir, which is deleted "
    "with the pod, so the parts cannot be merged afterwards; pass --results-pvc NAME "
    "(a ReadWriteMany claim) for a run whose results you keep"
)


def announced_start_warning(plan: Plan, start_at: datetime) -> list[str]:
    """The pipeline team was told `[schedule] start`: say so when the fleet starts elsewhen."""
    announced = plan.profile.start
    if announced is None or abs((announced - start_at).total_seconds()) <= START_TOLERANCE_S:
        return []
    told = manifests.start_at_text(announced.astimezone(UTC))
    return [
        f"warning: the fleet starts at {manifests.start_at_text(start_at)}, but the profile "
        f"announces [schedule] start = {told} to the pipeline team; pass --start-at {told}"
    ]


def check_options(options: RenderOptions) -> None:
    if not 1 <= options.parallelism <= MAX_PARALLELISM:
        raise UsageError(f"--parallelism {options.parallelism}: use 1 to {MAX_PARALLELISM} pods")
    if not options.image.strip() or any(c.isspace() for c in options.image):
        raise UsageError(f"--image {options.image!r}: give an image reference without spaces")
    named = [("--job-name", options.job), ("--namespace", options.namespace)]
    named += [("--results-pvc", options.results_pvc), ("--secret", options.secret)]
    for flag, value in named:
        if value is not None and not is_dns_label(value):
            raise UsageError(
                f"{flag} {value!r}: a Kubernetes name is lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters"
            )
    if options.job is not None and len(options.job) > MAX_JOB_NAME:
        raise UsageError(f"--job-name {options.job!r}: at most {MAX_JOB_NAME} characters")


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def default_job_name(profile_name: str) -> str:
    """`loadgen-<profile name>` made a DNS label (lowercase, '-' for anything else)."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", profile_name.lower()).strip("-")
    return f"loadgen-{cleaned}"[:MAX_JOB_NAME].rstrip("-")


def build_fleet(plan: Plan, options: RenderOptions) -> manifests.Fleet:
    job = options.job or default_job_name(plan.profile.name)
    return manifests.Fleet(
        job=job,
        parallelism=options.parallelism,
        image=options.image,
        namespace=options.namespace,
        target=plan.target.name,
        profile_file=plan.profile.path.name,
        start_at=options.start_at,
        rendered_at=options.now,
        duration_s=plan.schedule.duration_s,
        secret=options.secret or f"{job}-credentials",
        credential_vars=credential_vars(plan),
        results_pvc=options.results_pvc,
    )


def credential_vars(plan: Plan) -> tuple[str, ...]:
    """The environment variables the target reads for the profile's APIs (names only)."""
    names: list[str] = []
    target = plan.target
    for api in dict.fromkeys(s.api for s in plan.profile.scenarios):
        for key in credential_keys(api):
            var = target.credentials.get(key)
            if var is None:
                where = f"targets.{target.name}.credentials.{key}"
                raise TargetError(
                    [
                        Problem(
                            where,
                            f"the profile's {api} scenarios need {key}, which this target "
                            "names no environment variable for",
                            target.source,
                            target.line_of(f"targets.{target.name}.credentials"),
                            fix=f'add {key} = "ENV_VAR_NAME" to its credentials',
                        )
                    ]
                )
            if var not in names:
                names.append(var)
    return tuple(names)


def start_time(now: datetime, start_in_s: float) -> datetime:
    """`now` + the lead, rounded up to a whole second (every pod is given the same text)."""
    moment = now + timedelta(seconds=start_in_s)
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def header(fleet: manifests.Fleet) -> str:
    n, start = fleet.parallelism, manifests.start_at_text(fleet.start_at)
    lines = [
        f"# loadgen fleet {fleet.job}: {n} pod(s), pod i runs segment (i+1)/{n} from {start}",
        f"# kubectl apply --server-side -f THIS_FILE before {start}: a pod scheduled after it",
        "# starts late (docs/kubernetes.md); --server-side: the ConfigMap may exceed 256 KiB",
        "# credentials, values never written here:",
        f"#   kubectl create secret generic {fleet.secret}"
        + "".join(f" --from-literal={var}=..." for var in fleet.credential_vars),
        "# open files: each pod holds up to the target's max_connections sockets; the",
        "# container runtime's nofile limit (often 1048576) must exceed it (k8s cannot set it)",
    ]
    if fleet.results_pvc is None:
        lines.append("# WARNING: results on an emptyDir are lost with each pod (no --results-pvc)")
    return "\n".join(lines) + "\n"


def footer(fleet: manifests.Fleet) -> str:
    return (
        "# when the Job is complete, copy the parts from the results volume, then:\n"
        f"#   {manifests.merge_command(fleet)}\n"
    )


def dump_yaml(docs: list[dict[str, Any]]) -> str:
    """Multi-document YAML, files as literal blocks so that the profile stays readable."""
    import yaml  # only for this command (tests/test_startup_imports.py)

    class BlockDumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    BlockDumper.add_representer(str, text)
    return yaml.dump_all(docs, Dumper=BlockDumper, sort_keys=False, explicit_start=True, width=4096)
