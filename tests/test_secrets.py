"""Secrets never appear: every credential source holds a marker, every output is searched.

The sources: the environment variables each API's credentials are read from, a target URL
with userinfo, a query and a fragment (refused), and a token value pasted where a variable
name belongs (refused). The outputs: stdout and stderr of `plan`, `plan --json`, `lint` in
every format, `brief`, `run --dry-run`, real runs against the local mock, against a
loopback server that fails (and echoes every request back, the worst case) and against a
port that refuses connections, plus every file those commands wrote (artifacts, the brief).
All are real `python -m loadgen` processes.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from loadgen.arrivals.plan import Plan
from loadgen.guard.brief import render_brief
from loadgen.guard.lint import preflight
from loadgen.inputs.models import Profile
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import Target
from loadgen.report.plan_text import render_plan
from loadgen.results.artifact import read_artifact
from loadgen.run.options import RunOptions
from loadgen.run.runner import run_profile
from tests.fault_servers import Reply, SeenRequest, responder
from tests.run_support import (
    CliResult,
    Running,
    profile,
    refusing_port,
    run_all,
    scenario,
    start,
    write_profile,
    write_targets,
)
from tests.run_support import target as target_table

MARK = "lgmk"  # every marker holds it, and nothing loadgen prints should
ENV_MARKERS = {
    "LG_SECRET_PH_TOKEN": "phc_lgmkPosthogToken1",
    "LG_SECRET_CIO_SITE": "lgmkCioSite2",
    "LG_SECRET_CIO_KEY": "lgmkCioApiKey3",
    "LG_SECRET_SEG_KEY": "lgmkSegmentWriteKey4",
}
# The same secrets as they travel in Basic auth headers (base64 hides the marker text).
ENCODED_MARKERS = [
    base64.b64encode(b"lgmkCioSite2:lgmkCioApiKey3").decode(),
    base64.b64encode(b"lgmkSegmentWriteKey4:").decode(),
]
LEAKY_URL = "https://lgmkUser5:lgmkPassword6@127.0.0.1:9/capture?token=lgmkQuery7#lgmkFrag8"
PASTED_VALUE = "phc_lgmkPastedValue9"
CREDENTIAL_NAMES = {
    "posthog": {"token": "LG_SECRET_PH_TOKEN"},
    "customerio": {"site_id": "LG_SECRET_CIO_SITE", "api_key": "LG_SECRET_CIO_KEY"},
    "segment": {"write_key": "LG_SECRET_SEG_KEY"},
}
API_SCENARIOS = {
    "posthog": [scenario("track"), scenario("batch", kind="batch", batch_size=3)],
    "customerio": [scenario("identify", "customerio", "identify"), scenario("t", "customerio")],
    "segment": [scenario("identify", "segment", "identify"), scenario("t", "segment")],
}


def leaks(text: str) -> list[str]:
    """The markers found in `text` (raw or base64 as in an Authorization header)."""
    found = [MARK] if MARK in text else []
    return found + [m for m in ENCODED_MARKERS if m in text]


def test_the_marker_search_finds_every_marker() -> None:
    # The search below is only worth something if it recognises each secret's form.
    for text in [*ENV_MARKERS.values(), LEAKY_URL, PASTED_VALUE, *ENCODED_MARKERS]:
        assert leaks(f"... {text} ..."), text
    assert not leaks("phc_loadgen_local https://***@127.0.0.1:9/capture?***#***")


def _echo(request: SeenRequest) -> Reply:
    """Fail, and send the request back: a server that quotes what it got in its errors."""
    quoted = repr(request.headers).encode() + b"\n" + request.body
    return Reply(500, (("X-Echo-Auth", request.header("authorization") or "-"),), quoted)


def _sent_text(request: SeenRequest) -> str:
    body = request.body
    if request.header("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return repr(request.headers) + body.decode("utf-8", "replace")


@dataclass
class Workspace:
    good: Path  # valid profiles and targets whose credentials are marker env vars
    leaky: Path  # a targets file with a secret in a URL and a value pasted as a name
    out: Path  # where the commands write their files

    def inputs(self) -> set[Path]:
        return {p for d in (self.good, self.leaky) for p in d.iterdir() if p.is_file()}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    space = Workspace(tmp_path / "good", tmp_path / "leaky", tmp_path / "out")
    for directory in (space.good, space.leaky, space.out):
        directory.mkdir()
    for api, mix in API_SCENARIOS.items():
        write_profile(space.good, profile(f"secret-{api}", stages=[("3s", 15)], scenarios=mix))
    write_profile(space.leaky, profile("secret-posthog", stages=[("3s", 15)]))
    write_targets(
        space.leaky,
        leaky={**target_table("https://placeholder"), "url": LEAKY_URL},
        pasted={**target_table("http://127.0.0.1:9"), "credentials": {"token": PASTED_VALUE}},
    )
    return space


def _good_targets(space: Workspace, failing_url: str, down_url: str) -> None:
    tables = {
        api: {**target_table(failing_url, api=api), "credentials": CREDENTIAL_NAMES[api]}
        for api in API_SCENARIOS
    }
    down = {**target_table(down_url), "credentials": CREDENTIAL_NAMES["posthog"]}
    unset = {**target_table(failing_url), "credentials": {"token": "LG_SECRET_NOT_SET"}}
    write_targets(space.good, **tables, down=down, unset=unset)


def _quick_commands(space: Workspace) -> Iterator[tuple[Path, list[str | Path]]]:
    """(working directory, arguments) of every command that sends nothing."""
    for cwd, target in ((space.good, "posthog"), (space.leaky, "leaky"), (space.leaky, "pasted")):
        prof = cwd / "secret-posthog.toml"
        yield cwd, ["plan", prof, "-t", target]
        yield cwd, ["plan", prof, "-t", target, "--json"]
        for fmt in ("text", "json", "github"):
            yield cwd, ["lint", *sorted(cwd.glob("secret-*.toml")), "-t", target, "--format", fmt]
        yield cwd, ["brief", prof, "-t", target]
        yield cwd, ["brief", prof, "-t", target, "--out", space.out / f"brief-{target}.md"]
        yield cwd, ["run", prof, "-t", target, "--dry-run"]
        if cwd == space.leaky:  # the good ones run below, side by side
            yield cwd, ["run", prof, "-t", target, "--out", space.out / f"refused-{target}.json"]


def _runs(space: Workspace) -> dict[str, Running]:
    """Real runs: each API against the failing server, a down port, an unset variable, local."""
    profiles = {api: f"secret-{api}.toml" for api in API_SCENARIOS}
    profiles |= dict.fromkeys(("down", "unset", "local"), "secret-posthog.toml")
    return {
        name: start(
            "run", prof, "-t", name, "-o", space.out / name, cwd=space.good, env=ENV_MARKERS
        )
        for name, prof in profiles.items()
    }


def _run_everything(space: Workspace) -> tuple[dict[str, CliResult], list[SeenRequest]]:
    with refusing_port() as port, responder(_echo) as failing:
        _good_targets(space, failing.url, f"http://127.0.0.1:{port}")
        runs = _runs(space)
        results = {}
        for index, (cwd, args) in enumerate(_quick_commands(space)):
            results[f"{index}: {' '.join(map(str, args))}"] = start(
                *args, cwd=cwd, env=ENV_MARKERS
            ).finish()
        results.update(zip(runs, run_all(list(runs.values())), strict=True))
        return results, failing.requests


def test_no_secret_appears_in_any_output_or_file(workspace: Workspace) -> None:
    results, seen = _run_everything(workspace)
    for name, result in results.items():
        assert not leaks(result.stdout + result.stderr), f"{name}: {result.explain()}"
        assert "Traceback" not in result.stderr, f"{name}: {result.explain()}"
    written = [p for p in workspace.out.parent.rglob("*") if p.is_file()]
    outputs = [p for p in written if p not in workspace.inputs()]
    assert {p.name for p in outputs} >= {*API_SCENARIOS, "down", "local", "brief-posthog.md"}
    for path in outputs:
        assert not leaks(path.read_text("utf-8", "replace")), path
    _the_markers_were_really_in_play(results, seen)


def _the_markers_were_really_in_play(
    results: dict[str, CliResult], seen: list[SeenRequest]
) -> None:
    """Without this the search above could pass by never touching a secret."""
    sent = "".join(_sent_text(r) for r in seen)
    assert ENV_MARKERS["LG_SECRET_PH_TOKEN"] in sent
    assert all(m in sent for m in ENCODED_MARKERS)
    assert results["local"].returncode == 0, results["local"].explain()
    for api in API_SCENARIOS:  # 24 requests, all 500s: the safety stop ends each run
        assert results[api].returncode == 5, results[api].explain()
        assert "safety stop" in results[api].stderr
    unset = results["unset"]
    assert unset.returncode == 3 and "LG_SECRET_NOT_SET" in unset.stderr, unset.explain()
    refused = [r for name, r in results.items() if "-t leaky" in name or "-t pasted" in name]
    assert len(refused) == 18  # 9 commands for each of the 2 refused targets
    for result in refused:
        assert result.returncode == 3, result.explain()
    leaky = next(
        r for name, r in results.items() if ": plan " in name and name.endswith("-t leaky")
    )
    assert "https://***@127.0.0.1:9/capture?***#***" in leaky.stderr
    assert "this looks like a secret value, not a variable name" in leaky.stderr


# -- defence in depth: a URL with credentials that got past targets.toml -------------------

SMUGGLED = "http://lgmkUser:lgmkPass@127.0.0.1:9/capture?token=lgmkQuery#lgmkFrag"


@pytest.fixture
def smuggled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Profile, Target]:
    """A target built in code, as a plugin or a future input might: no file refused it."""
    monkeypatch.setenv("LG_SECRET_PH_TOKEN", ENV_MARKERS["LG_SECRET_PH_TOKEN"])
    path = write_profile(tmp_path, profile("smuggled", stages=[("1s", 2)]))
    target = Target(
        "smuggled", SMUGGLED, "posthog", "fast", "staging", dict(CREDENTIAL_NAMES["posthog"])
    )
    return load_profile(path), target


def test_plan_and_brief_mask_a_url_that_got_past_the_file(smuggled: tuple[Profile, Target]) -> None:
    prof, target = smuggled
    plan = Plan.build(prof, target)
    verdict = preflight(plan, now=datetime.now(UTC))
    for text in (orjson.dumps(plan.to_dict()).decode(), render_plan(plan)):
        assert not leaks(text)
        assert "http://***@127.0.0.1:9/capture?***#***" in text
    brief = render_brief(plan, verdict)
    assert not leaks(brief)
    assert "127.0.0.1:9/capture" in brief  # the endpoint is still shown, masked or trimmed


def test_a_run_that_fails_on_such_a_url_stores_no_secret(
    smuggled: tuple[Profile, Target], tmp_path: Path
) -> None:
    prof, target = smuggled
    out = tmp_path / "smuggled.json"
    with pytest.raises(ValueError, match="must not have a query") as info:  # the transport's
        run_profile(Plan.build(prof, target), RunOptions(out=out))
    assert not leaks(str(info.value))  # what a traceback would print
    doc = read_artifact(out)
    assert doc["status"] == "aborted" and "internal error" in doc["status_reason"]
    assert not leaks(out.read_text("utf-8"))


def test_status_reason_is_masked_whatever_a_component_says(
    smuggled: tuple[Profile, Target], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def quoting_transport(url: str, *args: object, **kwargs: object) -> None:
        raise RuntimeError(f"cannot reach {url}")  # a library that quotes the URL as it is

    monkeypatch.setattr("loadgen.run.runner.make_transport", quoting_transport)
    prof, target = smuggled
    out = tmp_path / "quoted.json"
    with pytest.raises(RuntimeError):
        run_profile(Plan.build(prof, target), RunOptions(out=out))
    reason = read_artifact(out)["status_reason"]
    assert "cannot reach http://***@127.0.0.1:9/capture?***#***" in reason
    assert not leaks(out.read_text("utf-8"))
