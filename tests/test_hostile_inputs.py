"""Hostile profiles and targets files: each is a clear input error naming file, line and key,
never a traceback. Integers outside 64 bits, nesting deeper than MAX_DEPTH (including what
makes tomllib itself recurse), `scenarios = []`, and `schedule.start` years at the ends of
the calendar; the CLI cases run the real `loadgen` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given

from loadgen.errors import ProfileError, TargetError
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import load_targets
from loadgen.inputs.tomlsource import INT64_MAX, INT64_MIN, MAX_DEPTH, KeyLines, structure_problems
from tests.profile_text import profile_text, write

ROOT = Path(__file__).parent.parent
VALID = profile_text()  # line 2 is `description`, 19 `[[scenarios]]`, 23 its last


def with_line(extra: str) -> str:
    """The valid profile with `extra` appended (from line 24, inside the scenario)."""
    return VALID + extra


def nested_properties(levels: int) -> str:
    return "properties = { deep = " + "{ a = " * levels + "1" + " }" * levels + " }\n"


# (why, profile text, expected line, key path in the message, words in the message)
PROFILE_CASES: list[tuple[str, str, int | None, str, str]] = [
    (
        "a huge int where a string belongs: it crashed the profile hash",
        VALID.replace('description = "test profile"', "description = 99999999999999999999"),
        2,
        "description",
        "64-bit",
    ),
    (
        "2^64 nested inside properties: invisible to validation, fatal to orjson",
        with_line("properties = { big = 18446744073709551616 }\n"),
        24,
        "scenarios[0].properties.big",
        "64-bit",
    ),
    (
        "one below the signed minimum, in a stage target",
        profile_text(stages=[("10s", -(2**63) - 1)]),
        12,
        "load.stages[0].target",
        "64-bit",
    ),
    (
        "5,000 digits: int() itself refuses it inside tomllib (a ValueError, not a decode error)",
        VALID.replace("count = 100", "count = " + "9" * 5000),
        16,
        "",
        "64-bit",
    ),
    (
        "a properties table nested 300 levels (orjson's recursion limit)",
        with_line(nested_properties(300)),
        24,
        "scenarios[0].properties.deep",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "arrays nested 5,000 deep: tomllib recurses and raises RecursionError",
        with_line("tags = " + "[" * 5000 + "]" * 5000 + "\n"),
        24,
        "",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "a dotted key of 100 parts: parsed, then found 100 tables deep, with its key path",
        with_line(".".join(["a"] * 100) + " = 1\n"),
        24,
        "scenarios[0].a.a.a",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "a dotted key of 5,000 parts: refused before tomllib parses it",
        with_line(".".join(["a"] * 5000) + " = 1\n"),
        24,
        "",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "a dotted key of 100,000 parts: tomllib's memory grows with the square of the parts",
        with_line(".".join(["a"] * 100_000) + " = 1\n"),
        24,
        "",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "an array-of-tables header of 20,000 parts, spaced out: refused before parsing too",
        with_line("[[" + " . ".join(["h"] * 20_000) + "]]\n"),
        24,
        "",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "a table header of 40 parts: parsed, then found too deep",
        with_line("[" + ".".join(["h"] * 40) + "]\nx = 1\n"),
        24,
        "h.h.h",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "a table header of 2,000 parts",
        with_line("[" + ".".join(["h"] * 2000) + "]\nx = 1\n"),
        24,
        "",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "`scenarios = []`: lint said 0 problems, plan divided by zero",
        VALID.split("[[scenarios]]")[0].replace(
            "apps_enabled = false", "apps_enabled = false\nscenarios = []"
        ),
        4,
        "scenarios",
        "at least one scenario",
    ),
    (
        "year 9999: start + duration overflowed in the guard's calendar code",
        with_line("[schedule]\nstart = 9999-12-31T23:59:59Z\n"),
        25,
        "schedule.start",
        "years 2000 to 2999",
    ),
    (
        "year 1 with a positive offset: converting to UTC would underflow",
        with_line("[schedule]\nstart = 0001-01-01T00:00:00+05:00\n"),
        25,
        "schedule.start",
        "years 2000 to 2999",
    ),
    (
        "the first year past the bound",
        with_line("[schedule]\nstart = 3000-01-01T00:00:00Z\n"),
        25,
        "schedule.start",
        "years 2000 to 2999",
    ),
    (
        "a zero weight: the mix divides by the sum of the weights",
        VALID.replace("weight = 1", "weight = 0"),
        23,
        "scenarios[0].weight",
        "above 0",
    ),
    (
        "the last moment before the bound",
        with_line("[schedule]\nstart = 1999-12-31T23:59:59Z\n"),
        25,
        "schedule.start",
        "years 2000 to 2999",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [case[1:] for case in PROFILE_CASES],
    ids=[case[0] for case in PROFILE_CASES],
)
def test_hostile_profile_is_a_profile_error_with_file_line_and_key(
    tmp_path: Path, text: str, line: int | None, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    problems = info.value.problems
    assert len(problems) == 1, str(info.value)
    problem = problems[0]
    assert (problem.file, problem.line) == (str(path), line), problem.render()
    assert problem.path.startswith(key) and words in problem.message, problem.render()
    assert len(problem.render()) < 2000  # a 5,000-part key is cut at the depth limit


def test_a_string_full_of_dotted_words_is_not_taken_for_a_key(tmp_path: Path) -> None:
    # The pre-parse check looks for a key's `=` or a header's `]` after the run of parts.
    text = with_line('properties = { p = "' + "a." * 50_000 + 'a" }\n')
    assert load_profile(write(tmp_path, text)).scenarios[0].properties["p"].startswith("a.a.")


@pytest.mark.parametrize(
    "start",
    [
        "2000-01-01T00:00:00Z",  # the first accepted moment
        "2999-12-31T23:59:59-12:00",  # the last year, with an offset that crosses into 3000 UTC
        "2026-12-01T10:00:00+01:00",  # an ordinary date
    ],
)
def test_start_inside_the_year_bound_is_accepted(tmp_path: Path, start: str) -> None:
    profile = load_profile(write(tmp_path, with_line(f"[schedule]\nstart = {start}\n")))
    assert profile.start is not None


def test_integers_at_the_64_bit_bounds_and_the_depth_limit_are_accepted(tmp_path: Path) -> None:
    # scenarios is level 1, [0] 2, properties 3: `deep` and its chain fill levels 4..32.
    chain = "properties = { deep = " + "{ a = " * (MAX_DEPTH - 3) + "1" + " }" * (MAX_DEPTH - 3)
    text = with_line(f"{chain}, low = {INT64_MIN}, high = {INT64_MAX} }}\n")
    profile = load_profile(write(tmp_path, text))
    assert profile.scenarios[0].properties["high"] == INT64_MAX
    deeper = with_line(nested_properties(MAX_DEPTH - 2))  # one level more
    with pytest.raises(ProfileError, match="nested more than"):
        load_profile(write(tmp_path, deeper))


# (why, targets.toml text, expected line, key path, words)
TARGET_CASES = [
    (
        "a huge int in a target's limits",
        '[targets.s]\nurl = "https://s.example.com"\nworkspace_rps_limit = 99999999999999999999\n',
        3,
        "targets.s.workspace_rps_limit",
        "64-bit",
    ),
    (
        "a guard table nested past the limit by a dotted key",
        '[targets.s]\nurl = "https://s.example.com"\n' + ".".join(["g"] * 100) + " = 1\n",
        3,
        "targets.s.g.g",
        f"more than {MAX_DEPTH} levels",
    ),
    (
        "arrays nested 5,000 deep in trusted_keys",
        '[targets.s]\nurl = "https://s.example.com"\ntrusted_keys = '
        + "[" * 5000
        + "]" * 5000
        + "\n",
        3,
        "",
        f"more than {MAX_DEPTH} levels",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [case[1:] for case in TARGET_CASES],
    ids=[case[0] for case in TARGET_CASES],
)
def test_hostile_targets_file_is_a_target_error_with_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text, "targets.toml")
    with pytest.raises(TargetError) as info:
        load_targets(path)
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == (str(path), line), problem.render()
    assert problem.path.startswith(key) and words in problem.message, problem.render()


def chain(depth: int, leaf: object) -> dict[str, Any]:
    """`leaf` under `depth` nested tables (alternating with arrays) below the root."""
    value: Any = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return {"root": value}


@given(
    st.integers(min_value=0, max_value=MAX_DEPTH + 8),
    st.integers(min_value=-(2**66), max_value=2**66) | st.text(max_size=3) | st.floats(),
)
def test_structure_problems_iff_too_deep_or_out_of_range(depth: int, leaf: object) -> None:
    # The root's value sits at level 1, so `depth` wrappers put the innermost container at
    # level `depth` and the leaf at `depth + 1`.
    problems = structure_problems(chain(depth, leaf), Path("p.toml"), KeyLines())
    too_deep = depth > MAX_DEPTH
    out_of_range = isinstance(leaf, int) and not INT64_MIN <= leaf <= INT64_MAX
    assert bool(problems) == (too_deep or out_of_range)
    if too_deep:  # it stops descending at the limit, so the leaf is never reached
        assert [p.message for p in problems] == [
            f"tables and arrays are nested more than {MAX_DEPTH} levels deep"
        ]


def test_a_wide_table_past_the_limit_lists_a_bounded_number_of_problems() -> None:
    wide = chain(MAX_DEPTH, {f"k{i}": {"x": 1} for i in range(10_000)})
    problems = structure_problems(wide, Path("p.toml"), KeyLines())
    assert 1 <= len(problems) <= 10


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


CLI_CASES = [
    PROFILE_CASES[0],  # the 64-bit hash crash
    PROFILE_CASES[5],  # tomllib's RecursionError
    PROFILE_CASES[12],  # scenarios = []
    PROFILE_CASES[13],  # year 9999
    PROFILE_CASES[14],  # year 1
]


@pytest.mark.parametrize("command", [["lint"], ["plan"], ["run", "--dry-run"]])
@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [case[1:] for case in CLI_CASES],
    ids=[case[0][:40] for case in CLI_CASES],
)
def test_cli_reports_hostile_profiles_with_exit_3_and_no_traceback(
    tmp_path: Path, command: list[str], text: str, line: int, key: str, words: str
) -> None:
    write(tmp_path, text)
    result = cli(*command, "p.toml", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output
    assert f"p.toml:{line}" in output and words in output, output


# (why, a property template, words of the problem)
TEMPLATE_CASES = [
    ("'³' passes isdigit() but int() refuses it", "{{text:³}}", "text length"),
    ("5,000 digits: int() refuses it; shown cut short", "{{text:" + "9" * 5000 + "}}", "..."),
    (
        "an int range past 64 bits renders a number orjson cannot write",
        "{{int:1..2" + "0" * 19 + "}}",
        "64-bit",
    ),
    ("a lower bound one below the signed minimum", f"{{{{int:{INT64_MIN - 1}..0}}}}", "64-bit"),
    ("a thousand bad templates in one string are reported ten times", "{{x}}" * 1000, "and more"),
]


@pytest.mark.parametrize(
    ("template", "words"), [c[1:] for c in TEMPLATE_CASES], ids=[c[0] for c in TEMPLATE_CASES]
)
def test_hostile_templates_are_profile_errors(tmp_path: Path, template: str, words: str) -> None:
    path = write(tmp_path, with_line(f'properties = {{ p = "{template}" }}\n'))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    problems = info.value.problems
    assert 1 <= len(problems) <= 10 and all(p.line == 24 for p in problems), str(info.value)
    assert words in problems[-1].message
    assert all(len(p.message) < 300 for p in problems)


def test_templates_at_the_64_bit_bounds_are_accepted(tmp_path: Path) -> None:
    text = f'properties = {{ p = "{{{{int:{INT64_MIN}..{INT64_MAX}}}}}" }}\n'
    assert load_profile(write(tmp_path, with_line(text))).scenarios[0].properties["p"]


@pytest.mark.parametrize(
    "duration",
    [
        "٣s",  # an Arabic-Indic digit: \d and float() took it for 3 seconds
        "１s",  # a full-width digit, the same
        "1e400s",  # exponents are not part of the syntax
        "9" * 5000 + "s",  # float() makes it inf: not finite
        "1h" * 100_000,  # parts add up past the 7-day maximum
    ],
)
def test_hostile_durations_are_profile_errors(tmp_path: Path, duration: str) -> None:
    path = write(tmp_path, profile_text(stages=[(duration, 50)]))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert [(p.path, p.line) for p in info.value.problems] == [("load.stages[0].duration", 11)]


# (why, TOML appended to the profile, line, key path of the one problem)
ODD_KEYS = [
    (
        'a quoted key "]" looked like an index and crashed the line lookup',
        '[users."]"]\n',
        24,
        "users.]",
    ),
    ('a quoted key "[0]" is a key, not an index', '[users."[0]"]\n', 24, "users.[0]"),
    ("a quoted key with a dot", '[users."a.b"]\n', 24, "users.a.b"),
]


@pytest.mark.parametrize(
    ("extra", "line", "key"), [c[1:] for c in ODD_KEYS], ids=[c[0] for c in ODD_KEYS]
)
def test_odd_quoted_keys_are_reported_at_their_line(
    tmp_path: Path, extra: str, line: int, key: str
) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, with_line(extra)))
    assert [(p.path, p.line, p.message) for p in info.value.problems] == [
        (key, line, "unknown key")
    ]
