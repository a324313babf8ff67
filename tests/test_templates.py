"""Property templates: rendering (types, ranges, literal text, nesting) and the problems
`check` reports to the profile reader."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.inputs.templates import Context, TemplateError, check, compile_properties, iso8601

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def context(seed: int = 1, native: object = "2026-01-01T00:00:00.000Z") -> Context:
    ctx = Context(random.Random(seed))
    ctx.user, ctx.ts, ctx.native, ctx.serial = "user-7", 1767225600.25, native, 42
    return ctx


def render_one(value: object, ctx: Context | None = None) -> Any:
    return compile_properties({"v": value}).render(ctx or context())["v"]


# (value, expected rendering) — deterministic templates and constants
EXACT = [
    ("plain text", "plain text"),  # no template: a constant string
    (42, 42),  # non-string TOML values are constants
    (True, True),  # ... booleans too
    ([1, "a"], [1, "a"]),  # constant arrays stay as they are
    ("{{user}}", "user-7"),  # the event's distinct_id
    ("{{user}}@example.com", "user-7@example.com"),  # literal text after a template
    ("id: {{ user }}", "id: user-7"),  # spaces inside the braces are allowed
    ("{{counter}}", 1),  # exactly one counter: a JSON number
    ("#{{counter}}", "#1"),  # with literal text: a string
    ("{{timestamp}}", "2026-01-01T00:00:00.000Z"),  # the API's native format (PostHog here)
    ("{{timestamp:iso}}", "2026-01-01T00:00:00.250Z"),  # forced ISO 8601 with milliseconds
    ("{{timestamp:unix}}", 1767225600),  # forced unix seconds: a number
    ("t={{timestamp:unix}}", "t=1767225600"),  # a number inside text
    ("{{choice:only}}", "only"),  # a one-option choice
    ("{{int:5..5}}", 5),  # a one-value range
    ("{{float:2.5..2.5}}", 2.5),  # a one-value float range
    ({"a": {"b": ["{{user}}", 1]}}, {"a": {"b": ["user-7", 1]}}),  # nested tables and arrays
    ("{{user}}-{{user}}", "user-7-user-7"),  # several templates in one string
    ("x}}y", "x}}y"),  # a lone closing brace pair is literal
]


@pytest.mark.parametrize(("value", "rendered"), EXACT)
def test_renders_exactly(value: object, rendered: object) -> None:
    assert render_one(value) == rendered


def test_counter_steps_once_per_event_and_is_per_scenario() -> None:
    props = compile_properties({"a": "{{counter}}", "b": "n{{counter}}"})
    other = compile_properties({"a": "{{counter}}"})
    ctx = context()
    assert [props.render(ctx) for _ in range(3)] == [
        {"a": 1, "b": "n1"},
        {"a": 2, "b": "n2"},
        {"a": 3, "b": "n3"},
    ]
    assert other.render(ctx) == {"a": 1}  # another scenario has its own counter


def test_unix_native_timestamp_is_a_number() -> None:
    # Customer.io's native time is unix seconds: `created_at = "{{timestamp}}"` must be a number
    assert render_one("{{timestamp}}", context(native=1767225600)) == 1767225600


def test_render_returns_a_fresh_top_level_dict() -> None:
    props = compile_properties({"plan": "pro"})
    first = props.render(context())
    first["$lib"] = "x"  # builders add keys to what they get
    assert props.render(context()) == {"plan": "pro"}


def test_uuid_is_version_4_and_unique_per_event() -> None:
    props = compile_properties({"a": "{{uuid}}", "b": "{{uuid}}"})
    ctx = context()
    seen = set()
    for serial in range(500):
        ctx.serial = serial
        rendered = props.render(ctx)
        assert UUID4.match(rendered["a"]) and UUID4.match(rendered["b"])
        seen |= {rendered["a"], rendered["b"]}
    assert len(seen) == 1000


def test_same_seed_renders_the_same_values() -> None:
    props = {"a": "{{int:1..1000000}}", "b": "{{choice:x,y,z}}", "c": "{{text:20}}"}
    one, two = compile_properties(props), compile_properties(props)
    ctx1, ctx2 = context(seed=9), context(seed=9)
    assert [one.render(ctx1) for _ in range(20)] == [two.render(ctx2) for _ in range(20)]


def test_iso8601_formats_utc_with_milliseconds() -> None:
    assert iso8601(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso8601(1767225599.9995) == "2025-12-31T23:59:59.999Z"  # truncated, never rounded up


# (value, words the problem must contain) — each row is a mistake a user can make
PROBLEMS = [
    ("{{choise:a,b}}", "did you mean 'choice'"),  # misspelt generator
    ("{{nope}}", "known: counter"),  # nothing close: list the known ones
    ("{{int:10..1}}", "LO must not exceed HI"),  # an empty range
    ("{{float:3.5..1}}", "LO must not exceed HI"),  # an empty float range
    ("{{int:1.5..3}}", "needs LO..HI"),  # float bounds for int
    ("{{int:1-3}}", "needs LO..HI"),  # wrong separator
    ("{{int}}", "needs an argument"),  # no range at all
    ("{{choice:}}", "needs an argument"),  # empty choice
    ("{{choice:a,,b}}", "empty option"),  # an empty option
    ("{{text:lots}}", "whole number"),  # a non-numeric length
    ("{{text:99999999}}", "whole number 0..1000000"),  # beyond any API's event size
    ("{{uuid:4}}", "takes no argument"),  # an argument where none is taken
    ("{{timestamp:ms}}", "'iso' or 'unix'"),  # an unknown timestamp format
    ("price {{float:1..2", "unclosed '{{' at character 7"),  # unclosed template
    ("{{float:nan..1}}", "needs LO..HI"),  # NaN is not a bound
]


@pytest.mark.parametrize(("value", "words"), PROBLEMS)
def test_check_reports_the_problem(value: str, words: str) -> None:
    problems = check(value)
    assert len(problems) == 1 and words in problems[0], problems
    with pytest.raises(TemplateError, match=re.escape(words)):
        compile_properties({"v": value})


def test_check_names_the_nested_key_path() -> None:
    problems = check({"order": {"items": ["ok", "{{int:9..1}}"]}, "sku": "{{intt:1..2}}"})
    assert problems == [
        "order.items[1]: empty range 9..1 in 'int': LO must not exceed HI",
        "sku: unknown generator 'intt' (did you mean 'int'?)",
    ]


def test_check_accepts_valid_values() -> None:
    assert check({"a": "{{choice:free,pro}}", "b": "SKU-{{int:1000..9999}}", "c": 3, "d": []}) == []


@given(st.integers(-(10**12), 10**12), st.integers(0, 10**12), st.integers(0, 2**32))
def test_ints_stay_within_range(lo: int, width: int, seed: int) -> None:
    props = compile_properties({"v": f"{{{{int:{lo}..{lo + width}}}}}"})
    ctx = context(seed)
    for _ in range(20):
        value = props.render(ctx)["v"]
        assert isinstance(value, int) and lo <= value <= lo + width


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
    st.integers(0, 2**32),
)
def test_floats_stay_within_range_with_two_decimals(lo: float, width: float, seed: int) -> None:
    hi = lo + width
    props = compile_properties({"v": f"{{{{float:{lo!r}..{hi!r}}}}}"})
    ctx = context(seed)
    for _ in range(20):
        value = props.render(ctx)["v"]
        assert isinstance(value, float) and lo <= value <= hi
        assert value in (lo, hi) or round(value, 2) == value


@given(st.lists(st.from_regex(r"[A-Za-z0-9 ._-]{1,8}", fullmatch=True), min_size=1, max_size=6))
def test_choice_picks_one_of_the_options(options: list[str]) -> None:
    stripped = [o.strip() for o in options]
    if not all(stripped):
        return  # an all-blank option is a reported problem, covered above
    props = compile_properties({"v": "{{choice:" + ",".join(options) + "}}"})
    ctx = context()
    assert all(props.render(ctx)["v"] in stripped for _ in range(20))


@given(st.integers(0, 200_000), st.integers(0, 2**32))
def test_text_has_the_requested_length_in_letters(length: int, seed: int) -> None:
    value = render_one(f"{{{{text:{length}}}}}", context(seed))
    assert len(value) == length and (value.isalpha() or length == 0)
