"""Profile reading: the shipped profiles are valid; bad input gets every problem at once,
each with file:line, key path, value and fix; the content hash ignores formatting."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.arrivals.plan import schedule_of
from loadgen.errors import ProfileError
from loadgen.inputs.profile import load_profile
from tests.profile_text import profile_text, write

PROFILES = sorted(Path(__file__).parent.parent.joinpath("profiles").glob("*.toml"))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_shipped_profiles_are_valid(path: Path) -> None:
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.scenarios


def test_demo_profile_stays_within_the_guard_defaults() -> None:
    demo = load_profile(Path(__file__).parent.parent / "profiles" / "demo.toml")
    assert schedule_of(demo).peak_rate < 100
    assert schedule_of(demo).duration_s == 30
    rate = demo.load.start_rate
    for stage in demo.load.stages:
        assert stage.duration_s > 0
        assert (stage.target - rate) / stage.duration_s <= 10  # req/s per second
        rate = stage.target


def test_minimal_profile_gets_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, profile_text()))
    assert profile.load.timeout_s == 10
    assert profile.users.id_prefix == "user-"
    assert profile.retries.enabled is False
    assert profile.scenarios[0].events == ("pageview",)


# (text to substitute, key path the problem names, words the message must contain)
BAD_VALUES = [
    ("target = 50", "target = -5", "load.stages[0].target", "at least 0"),  # negative rate
    ("target = 50", "target = nan", "load.stages[0].target", "finite"),  # NaN
    ("target = 50", "target = inf", "load.stages[0].target", "finite"),  # infinity
    ("target = 50", "target = 1e12", "load.stages[0].target", "at most"),  # absurdly large
    ("target = 50", 'target = "50"', "load.stages[0].target", "a number"),  # mistyped
    ('duration = "10s"', 'duration = "10 parsecs"', "load.stages[0].duration", "unreadable"),
    ('duration = "10s"', 'duration = "-3s"', "load.stages[0].duration", "unreadable"),
    ("max_in_flight = 50", "max_in_flight = 2.5", "load.max_in_flight", "whole number"),
    ("max_in_flight = 50", "max_in_flight = 0", "load.max_in_flight", "at least 1"),
    ('kind = "track"', 'kind = "trak"', "scenarios[0].kind", 'did you mean "track"'),
    ('api = "posthog"', 'api = "mixpanel"', "scenarios[0].api", "posthog"),
    ("skew = 1.0", "skew = -1", "users.skew", "at least 0"),
    ('model = "arrival-rate"', 'model = "vus"', "load.model", "not available yet"),
    ("weight = 1", "weight = 0", "scenarios[0].weight", "above 0"),
]


@pytest.mark.parametrize(("old", "new", "path", "words"), BAD_VALUES)
def test_bad_values_are_named_with_place_and_fix(
    tmp_path: Path, old: str, new: str, path: str, words: str
) -> None:
    text = profile_text()
    assert old in text
    file = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ProfileError) as info:
        load_profile(file)
    problems = [p for p in info.value.problems if p.path == path]
    assert problems, info.value
    assert words in problems[0].render()
    assert problems[0].line is not None and problems[0].file == str(file)


def test_unknown_keys_get_did_you_mean(tmp_path: Path) -> None:
    text = profile_text().replace("max_in_flight = 50", "max_inflight = 50")
    text = text.replace("skew = 1.0", 'skew = 1.0\nid_prefx = "u-"')
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    rendered = str(info.value)
    assert "load.max_inflight: unknown key; did you mean `max_in_flight`?" in rendered
    assert "users.id_prefx: unknown key; did you mean `id_prefix`?" in rendered


def test_every_problem_is_reported_at_once_with_lines(tmp_path: Path) -> None:
    text = profile_text(stages=[("10s", 50), ("5m", -1), ("bad", 20)])
    text = text.replace('kind = "track"', 'kind = "nope"')
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    paths = {p.path: p.line or 0 for p in info.value.problems}
    assert set(paths) >= {"load.stages[1].target", "load.stages[2].duration", "scenarios[0].kind"}
    lines = text.splitlines()
    assert "target = -1" in lines[paths["load.stages[1].target"] - 1]
    assert 'duration = "bad"' in lines[paths["load.stages[2].duration"] - 1]
    assert str(info.value).startswith("3 problems found:")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, 'name = "x"\n[load\nstart_rate = 1\n'))
    assert info.value.problems[0].line == 2
    assert "TOML syntax error" in str(info.value)


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "absent.toml")


def test_missing_sections_are_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, 'name = "x"\n'))
    paths = {p.path for p in info.value.problems}
    assert {"load", "scenarios", "load.stages"} <= paths


def test_hash_ignores_comments_and_layout_but_not_values(tmp_path: Path) -> None:
    base = load_profile(write(tmp_path, profile_text(), "a.toml")).content_hash
    commented = "# a comment\n" + profile_text().replace("weight = 1", "weight = 1   # why")
    assert load_profile(write(tmp_path, commented, "b.toml")).content_hash == base
    assert (
        load_profile(
            write(tmp_path, profile_text().replace("target = 50", "target = 50.0"), "c.toml")
        ).content_hash
        == base
    )
    changed = profile_text().replace("target = 50", "target = 51")
    assert load_profile(write(tmp_path, changed, "d.toml")).content_hash != base


def test_schedule_start_needs_an_offset(tmp_path: Path) -> None:
    text = profile_text() + "\n[schedule]\nstart = 2026-12-01T10:00:00\n"
    with pytest.raises(ProfileError, match="schedule.start"):
        load_profile(write(tmp_path, text))
    ok = profile_text() + "\n[schedule]\nstart = 2026-12-01T10:00:00+01:00\n"
    assert load_profile(write(tmp_path, ok, "ok.toml")).start is not None


def test_batch_size_needs_batch_kind(tmp_path: Path) -> None:
    text = profile_text().replace("weight = 1", "weight = 1\nbatch_size = 10")
    with pytest.raises(ProfileError, match='kind = \\\\?"batch\\\\?"'):
        load_profile(write(tmp_path, text))


def test_huge_whole_floats_hash_without_overflow(tmp_path: Path) -> None:
    # 1e20 is a whole number but beyond int64: hashing must not crash
    text = profile_text().replace("weight = 1", "weight = 1\nproperties = { big = 1e20 }")
    assert load_profile(write(tmp_path, text)).content_hash.startswith("sha256:")
