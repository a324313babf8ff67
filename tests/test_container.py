"""The Dockerfile, built and run for real with buildah and podman (opt-in: it builds an image,
1-3 minutes the first time; run it with scripts/test-container or LOADGEN_CONTAINER_TESTS=1).

No container registry is reachable from the machines this runs on, so the base image is
made locally by scripts/container-base (debootstrap: Debian bookworm + python3, cached in
podman's store and under .cache/container/). The image is built from this checkout with
`buildah bud --isolation=chroot` (no daemon, no user namespaces needed) and the host's CA
bundle as the `pip_cert` build secret. Containers run with `--network none`: the traffic
of every run stays on the container's own loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from loadgen import __version__
from tests.run_support import (
    CREDENTIAL_ENV,
    cli,
    profile,
    read_checked,
    target,
    wait_until,
    write_profile,
    write_targets,
)

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/loadgen:test"
IMAGE_UID = 10001  # the Dockerfile's LOADGEN_UID default
BUILD_TIMEOUT_S = 900  # debootstrap plus a pip download of every dependency, the first time
RUN_TIMEOUT_S = 120
# runc and cgroupfs: what works where podman itself runs inside a container without systemd.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
# Limits at or below the host's: podman's defaults raise them, which an unprivileged
# container host refuses ("error setting rlimit ... operation not permitted").
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
SERVE_PORT = 18080

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("LOADGEN_CONTAINER_TESTS") != "1",
        reason="opt-in (builds an image): scripts/test-container or LOADGEN_CONTAINER_TESTS=1",
    ),
    pytest.mark.timeout(BUILD_TIMEOUT_S + RUN_TIMEOUT_S),
]


def _run(args: Sequence[str], timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False
    )
    return result


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _ca_bundle() -> str | None:
    """The CA bundle pip uses on this host (a TLS-inspecting proxy's CA may be in it)."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def image() -> str:
    """The image built from this checkout on the locally made base image."""
    for tool in ("podman", "buildah"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install -y podman buildah runc"
    made = _run([str(ROOT / "scripts" / "container-base")], timeout=BUILD_TIMEOUT_S)
    assert made.returncode == 0, _explain(made)
    base = made.stdout.strip().splitlines()[-1]
    previous = _image_id(IMAGE)
    # --no-cache: buildah 1.28 cannot bind-mount from a stage it took from its cache (the
    # final stage's `--mount=type=bind,from=builder`), and a fresh build takes ~30 s;
    # --force-rm: no working container left behind by a failed build.
    build = ["buildah", "bud", "--isolation=chroot", "--no-cache", "--force-rm"]
    build += ["--build-arg", f"BASE_IMAGE={base}", "--tag", IMAGE]
    ca = _ca_bundle()
    if ca:
        build += ["--secret", f"id=pip_cert,src={ca}"]
    built = _run([*build, str(ROOT)], timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, _explain(built)
    if previous and previous != _image_id(IMAGE):
        _run(["podman", "image", "rm", previous])  # the last run's image, now untagged
    return IMAGE


def _image_id(name: str) -> str | None:
    found = _run(["podman", "image", "inspect", "--format", "{{.Id}}", name])
    return found.stdout.strip() if found.returncode == 0 else None


def _container(
    image: str,
    *args: str,
    mounts: Sequence[tuple[Path, str]] = (),
    env: dict[str, str] | None = None,
    entrypoint: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`podman run` of the image on its own loopback only, mounts given as (host, container)."""
    command = [*PODMAN, "run", "--rm", "--network", "none", *LIMITS]
    for host, inside in mounts:
        command += ["--volume", f"{host}:{inside}"]
    for name, value in (env or {}).items():
        command += ["--env", f"{name}={value}"]
    if entrypoint is not None:
        command += ["--entrypoint", entrypoint]
    return _run([*command, image, *args])


def _workspace(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A profiles dir (mounted read-only) and a results dir the image's user can write."""
    profiles, results = tmp_path / "profiles", tmp_path / "results"
    profiles.mkdir()
    results.mkdir()
    results.chmod(0o777)  # the container runs as uid 10001, not as the test's user
    tiny = write_profile(profiles, profile("tiny", stages=(("2s", 10),)))
    return profiles, results, tiny


def _planned_requests(profile_path: Path, *target_args: str) -> int:
    """What `loadgen plan --json` on the host says the run sends."""
    planned = cli("plan", profile_path, *target_args, "--json")
    assert planned.returncode == 0, planned.explain()
    return int(json.loads(planned.stdout)["total_requests"])


def test_loadgen_version_is_the_checkouts(image: str) -> None:
    result = _container(image, "version")
    assert result.returncode == 0, _explain(result)
    assert result.stdout.strip() == __version__


def test_the_image_runs_as_its_own_user_with_no_build_secret_or_pip_left(image: str) -> None:
    inspected = _run(["podman", "image", "inspect", image])
    assert inspected.returncode == 0, _explain(inspected)
    config: dict[str, Any] = json.loads(inspected.stdout)[0]["Config"]
    assert config["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert config["Entrypoint"] == ["loadgen"]
    assert config["WorkingDir"] == "/work"
    assert not any(e.startswith("PIP_CERT=") for e in config.get("Env", []))
    # who runs; what is left of the build secret; whether pip (a build tool) was left behind
    probe = "id -u; ls /run/secrets 2>/dev/null | wc -l; ls /opt/loadgen/bin | grep -c ^pip"
    result = _container(image, "-c", probe, entrypoint="/bin/sh")
    assert result.stdout.split() == [str(IMAGE_UID), "0", "0"], _explain(result)


def test_a_run_against_the_embedded_mock_writes_its_artifact_to_the_mounted_dir(
    image: str, tmp_path: Path
) -> None:
    profiles, results, tiny = _workspace(tmp_path)
    result = _container(
        image,
        *("run", f"profiles/{tiny.name}", "--target", "local"),
        *("--out", "results/tiny.json", "--quiet"),
        mounts=[(profiles, "/work/profiles:ro"), (results, "/work/results")],
    )
    assert result.returncode == 0, _explain(result)
    artifact = results / "tiny.json"
    assert artifact.stat().st_uid == IMAGE_UID, "written by the image's user, not root"
    doc = read_checked(artifact)
    planned = _planned_requests(tiny, "--target", "local")
    assert doc["totals"]["sent"] == doc["totals"]["completed"] == planned
    observed = doc["target"]["observed"]
    assert observed["requests_received"] == planned


# loadgen serve in the background, loadgen run against it, then the mock's own counts
SERVE_AND_RUN = f"""
loadgen serve --port {SERVE_PORT} > /tmp/serve.log 2>&1 &
python3 - <<'WAIT'
import socket, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", {SERVE_PORT}), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
WAIT
loadgen run profiles/tiny.toml --target mock --out results/serve.json --quiet
code=$?
python3 -c 'import sys, urllib.request
url = "http://127.0.0.1:{SERVE_PORT}/_loadgen/stats"
sys.stdout.write(urllib.request.urlopen(url).read().decode())' > results/stats.json
exit $code
"""


def test_a_run_against_loadgen_serve_in_the_same_container(image: str, tmp_path: Path) -> None:
    profiles, results, tiny = _workspace(tmp_path)
    write_targets(profiles, mock=target(f"http://127.0.0.1:{SERVE_PORT}"))
    result = _container(
        image,
        *("-c", SERVE_AND_RUN),
        mounts=[(profiles, "/work/profiles:ro"), (results, "/work/results")],
        env=CREDENTIAL_ENV,
        entrypoint="/bin/sh",
    )
    assert result.returncode == 0, _explain(result)
    doc = read_checked(results / "serve.json")
    planned = _planned_requests(tiny, "--target", "mock")
    assert doc["totals"]["sent"] == doc["totals"]["completed"] == planned
    stats = json.loads((results / "stats.json").read_text(encoding="utf-8"))
    assert stats["requests_total"] == planned, stats


def test_podman_stop_ends_a_run_as_sigterm_does_with_the_artifact_written(
    image: str, tmp_path: Path
) -> None:
    """loadgen is PID 1 in the container: SIGTERM from `podman stop` must reach its handler
    (a PID 1 without one ignores it, and podman would SIGKILL it: exit 137, no artifact)."""
    profiles, results, _ = _workspace(tmp_path)
    write_profile(profiles, profile("long", stages=(("60s", 10),)))
    name = f"loadgen-test-stop-{os.getpid()}"
    detached = [*PODMAN, "run", "--detach", "--name", name, "--network", "none", *LIMITS]
    detached += ["--volume", f"{profiles}:/work/profiles:ro"]
    detached += ["--volume", f"{results}:/work/results"]
    try:
        started = _run(
            [*detached, image, "run", "profiles/long.toml", "--out", "results/long.json"]
        )
        assert started.returncode == 0, _explain(started)
        wait_until(lambda: _catches_sigterm(name), 30, "loadgen's SIGTERM handler in the container")
        stopped = _run([*PODMAN, "stop", "--time", "30", name])
        assert stopped.returncode == 0, _explain(stopped)
        code = _run([*PODMAN, "inspect", "--format", "{{.State.ExitCode}}", name])
        assert code.stdout.strip() == "130", _explain(_run([*PODMAN, "logs", name]))
    finally:
        _run([*PODMAN, "rm", "--force", name])
    doc = read_checked(results / "long.json")
    assert doc["status"] == "interrupted"
    assert "SIGTERM" in doc["status_reason"]


def _catches_sigterm(container: str) -> bool:
    """Whether the container's PID 1 has a SIGTERM handler yet (a stop sent sooner, while
    Python starts, would be ignored as PID 1 ignores signals it does not catch)."""
    found = _run([*PODMAN, "inspect", "--format", "{{.State.Pid}}", container])
    try:
        status = Path(f"/proc/{found.stdout.strip()}/status").read_text(encoding="ascii")
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))
