"""The pure parts of `loadgen k8s render`: names, the start time, the files of the
ConfigMap, the shell line's quoting (tables with a reason per row, and properties)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.errors import TargetError
from loadgen.inputs.profile import load_profile
from loadgen.k8s import manifests
from loadgen.k8s.config_files import ConfigFile
from loadgen.k8s.render import (
    MAX_JOB_NAME,
    credential_vars,
    default_job_name,
    dump_yaml,
    is_dns_label,
    start_time,
)
from tests.guard_support import target, write_profile

NOW = datetime(2026, 12, 2, 13, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("loadgen-demo", True),  # the usual shape
        ("a", True),  # one character is a label
        ("a" * 63, True),  # the longest label
        ("a" * 64, False),  # one too long
        ("Demo", False),  # uppercase is not allowed
        ("-demo", False),  # may not start with '-'
        ("demo-", False),  # nor end with it
        ("de_mo", False),  # '_' is not allowed
        ("de.mo", False),  # a dot makes a subdomain, not a label
        ("", False),  # empty
    ],
)
def test_dns_labels(name: str, ok: bool) -> None:
    assert is_dns_label(name) is ok


@pytest.mark.parametrize(
    ("profile_name", "job"),
    [
        ("demo", "loadgen-demo"),  # as is
        ("Checkout Ramp", "loadgen-checkout-ramp"),  # lowercased, space to '-'
        ("ramp_v2.final", "loadgen-ramp-v2-final"),  # '_' and '.' to '-'
        ("--x--", "loadgen-x"),  # no dangling dashes
        ("", "loadgen"),  # nothing usable: the prefix alone is still a name
    ],
)
def test_default_job_names(profile_name: str, job: str) -> None:
    assert default_job_name(profile_name) == job


@given(st.text(max_size=200))
def test_any_profile_name_gives_a_usable_job_name(profile_name: str) -> None:
    job = default_job_name(profile_name)
    assert is_dns_label(job)
    assert len(job) <= MAX_JOB_NAME


@pytest.mark.parametrize(
    ("lead_s", "expected"),
    [
        (120, NOW + timedelta(minutes=2)),  # whole seconds stay
        (0.2, NOW + timedelta(seconds=1)),  # a fraction rounds up, never into the past
        (0, NOW),  # no lead
    ],
)
def test_start_time_is_whole_seconds_not_before_the_lead(lead_s: float, expected: datetime) -> None:
    assert start_time(NOW, lead_s) == expected


@given(st.floats(min_value=0, max_value=7 * 86400), st.integers(0, 999_999))
def test_start_time_is_never_earlier_than_asked(lead_s: float, micros: int) -> None:
    now = NOW.replace(microsecond=micros)
    start = start_time(now, lead_s)
    assert start.microsecond == 0
    assert now + timedelta(seconds=lead_s) <= start < now + timedelta(seconds=lead_s + 1)


def test_binary_files_go_to_binary_data_and_text_to_data() -> None:
    files = [
        ConfigFile("p.toml", "p.toml", b'name = "p"\n', "p.toml"),  # text as is
        ConfigFile("replay-0-x.gz", "x.gz", b"\x1f\x8b\x08\x00\xff", "x.gz"),  # gzip: binary
    ]
    fleet = _fleet()
    config = manifests.config_map(fleet, files)
    assert config["data"] == {"p.toml": 'name = "p"\n'}
    assert config["binaryData"] == {"replay-0-x.gz": "H4sIAP8="}
    assert files[1].stored_size == len("H4sIAP8=")  # base64 is what the limit counts


@settings(max_examples=25, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30))
def test_any_target_name_reaches_loadgen_as_one_word(name: str) -> None:
    line = manifests.pod_command(replace(_fleet(), target=name)).replace("loadgen", "echo", 1)
    out = subprocess.run(
        ["sh", "-c", line.replace("exec echo", "exec printf '%s\\0'", 1)],
        env={"JOB_COMPLETION_INDEX": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout.decode()
    words = out.split("\0")  # one NUL after each argument, whatever it holds
    assert words[words.index("--target") + 1] == name


def test_credential_vars_are_the_names_the_target_reads(tmp_path: Path) -> None:
    staging = replace(target(), credentials={"token": "PH_TOKEN"})
    plan = Plan.build(load_profile(write_profile(tmp_path)), staging)
    assert credential_vars(plan) == ("PH_TOKEN",)


def test_a_target_naming_no_variable_for_a_credential_is_refused(tmp_path: Path) -> None:
    plan = Plan.build(load_profile(write_profile(tmp_path)), target())  # no credentials
    with pytest.raises(TargetError, match="names no environment variable"):
        credential_vars(plan)


def _fleet() -> manifests.Fleet:
    return manifests.Fleet(
        job="loadgen-t",
        parallelism=3,
        image="img:1",
        namespace=None,
        target="staging",
        profile_file="t.toml",
        start_at=NOW,
        rendered_at=NOW,
        duration_s=10.0,
        secret="loadgen-t-credentials",
        credential_vars=("PH_TOKEN",),
        results_pvc=None,
    )


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8")))
def test_any_file_text_survives_the_yaml_unchanged(content: str) -> None:
    # a profile or replay file goes into the ConfigMap as text: what the pod reads back
    # must be byte for byte what was rendered, whatever the text (block or quoted style)
    doc = {"data": {"p.toml": content, "next": "x"}}
    (loaded,) = yaml.safe_load_all(dump_yaml([doc]))
    assert loaded == doc
