"""The mock's options: latency/stall syntax, probabilities, MockConfig checks, the argv
round trip to the subprocess, and the fault injector's seeded decisions."""

from __future__ import annotations

import argparse
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.mock.config import (
    MockConfig,
    add_arguments,
    from_args,
    parse_accepted_keys,
    parse_error_rate,
    parse_header_timeout,
    parse_host,
    parse_port,
    parse_rps_limit,
    parse_seed,
    to_argv,
)
from loadgen.mock.faults import (
    FaultInjector,
    FaultSpec,
    Latency,
    Stall,
    parse_latency,
    parse_stall,
)

LATENCY_OK = [
    ("fixed:5ms", Latency("fixed", 0.005)),  # the simplest form
    ("fixed:1.5s", Latency("fixed", 1.5)),  # seconds with a fraction
    ("uniform:1ms-10ms", Latency("uniform", 0.001, 0.010)),  # LOW-HIGH
    ("uniform:5ms-5ms", Latency("uniform", 0.005, 0.005)),  # a degenerate range is fine
    ("normal:20ms,5ms", Latency("normal", 0.020, 0.005)),  # mean, stddev
    ("lognormal:10ms,100ms", Latency("lognormal", 0.010, 0.100)),  # median, p99
    ("exponential:10ms", Latency("exponential", 0.010)),  # mean
    (" Fixed:5ms ", Latency("fixed", 0.005)),  # surrounding blanks and case are forgiven
]

LATENCY_BAD = [
    ("5ms", "KIND:PARAMS"),  # no kind
    ("fixed:", "KIND:PARAMS"),  # no value
    ("gamma:5ms", "unknown distribution"),  # unsupported kind
    ("fixed:5", "not a duration"),  # a unit is required
    ("uniform:10ms", "LOW-HIGH"),  # one bound only
    ("uniform:10ms-1ms", "low bound"),  # reversed bounds
    ("normal:20ms", "two values"),  # stddev missing
    ("lognormal:100ms,10ms", "median <= p99"),  # p99 below the median
    ("fixed:2m", "not a duration"),  # above the 60 s cap
]


@pytest.mark.parametrize(("text", "expected"), LATENCY_OK)
def test_latency_syntax(text: str, expected: Latency) -> None:
    assert parse_latency(text) == expected


@pytest.mark.parametrize(("text", "fragment"), LATENCY_BAD)
def test_latency_errors_name_the_option_and_the_fix(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="--latency") as info:
        parse_latency(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("text", "_"), LATENCY_OK)
def test_latency_spec_reads_back_equal(text: str, _: Latency) -> None:
    value = parse_latency(text)
    assert parse_latency(value.spec) == value


def test_latency_samples_stay_in_range_and_are_seeded() -> None:
    rng = random.Random(7)
    uniform = parse_latency("uniform:1ms-10ms")
    assert all(0.001 <= uniform.sample(rng) <= 0.010 for _ in range(1000))
    normal = parse_latency("normal:1ms,50ms")  # mostly negative draws: clamped to zero
    assert all(normal.sample(rng) >= 0 for _ in range(1000))
    assert parse_latency("fixed:5ms").sample(rng) == 0.005
    lognormal = parse_latency("lognormal:10ms,100ms")
    rng = random.Random(1)
    draws = sorted(lognormal.sample(rng) for _ in range(4000))
    assert draws[2000] == pytest.approx(0.010, rel=0.15)  # the median is the median
    assert draws[3960] == pytest.approx(0.100, rel=0.35)  # and the p99 roughly the p99
    one, two = random.Random(3), random.Random(3)
    assert [uniform.sample(one) for _ in range(5)] == [uniform.sample(two) for _ in range(5)]


STALL_HOLD = [
    (5.0, 0.0),  # before the first window: no hold
    (10.0, 2.0),  # the first window opens at EVERY: held for all of FOR
    (11.5, 0.5),  # inside a window: held until it ends
    (12.0, 0.0),  # the window has closed
    (20.25, 1.75),  # the second window
]


@pytest.mark.parametrize(("elapsed", "hold"), STALL_HOLD)
def test_stall_windows(elapsed: float, hold: float) -> None:
    assert parse_stall("10s:2s").hold(elapsed) == pytest.approx(hold)


@pytest.mark.parametrize(
    "text",
    [
        "10s",  # no FOR
        "2s:2s",  # FOR must be shorter than EVERY
        "10s:0s",  # a zero stall is no stall
        "ten:2s",  # not a duration
    ],
)
def test_stall_errors(text: str) -> None:
    with pytest.raises(ValueError, match="--stall"):
        parse_stall(text)


def test_stall_spec_reads_back() -> None:
    assert parse_stall(parse_stall("1m:1.5s").spec) == Stall(60.0, 1.5)


OPTION_ERRORS = [
    (parse_error_rate, "1.5", "--error-rate"),  # above 1
    (parse_error_rate, "-0.1", "--error-rate"),  # below 0
    (parse_error_rate, "nan", "--error-rate"),  # NaN is not a probability
    (parse_error_rate, "lots", "--error-rate"),  # not a number
    (parse_port, "70000", "--port"),  # out of range
    (parse_port, "http", "--port"),  # not a number
    (parse_rps_limit, "-5", "--rps-limit"),  # negative
    (parse_rps_limit, "inf", "--rps-limit"),  # infinite
    (parse_seed, "x", "--seed"),  # not an integer
    (parse_header_timeout, "0s", "--header-timeout"),  # must be above zero
    (parse_header_timeout, "soon", "--header-timeout"),  # not a duration
    (parse_host, " ", "--host"),  # blank
]


@pytest.mark.parametrize(("parse", "text", "option"), OPTION_ERRORS)
def test_option_errors_name_the_option(parse: object, text: str, option: str) -> None:
    assert callable(parse)
    with pytest.raises(ValueError, match=option):
        parse(text)


def test_option_values() -> None:
    assert parse_error_rate("0.25") == 0.25
    assert parse_port("0") == 0
    assert parse_rps_limit("0") == 0.0  # zero turns the limit off
    assert parse_header_timeout("250ms") == 0.25
    assert parse_header_timeout("3") == 3.0  # a plain number is seconds
    assert parse_accepted_keys([" phc_a ", "site:key"]) == {"phc_a", "site:key"}
    with pytest.raises(ValueError, match="--accept-key"):
        parse_accepted_keys(["ok", ""])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"error_rate": 2.0}, "--error-rate"),  # a probability above 1
        ({"port": -1}, "--port"),  # not a port
        ({"rps_limit": -1.0}, "--rps-limit"),  # negative rate
        ({"header_timeout": 0.0}, "header_timeout"),  # would close every connection at once
        ({"overflow_burst": 0.5}, "overflow_burst"),  # a bucket must hold at least one token
        ({"tls_cert": "cert.pem"}, "tls_key"),  # a certificate without its key
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        MockConfig(**kwargs)  # type: ignore[arg-type]


def test_config_round_trips_through_argv() -> None:
    config = MockConfig(
        port=8080,
        rps_limit=50.0,
        latency=parse_latency("uniform:1ms-10ms"),
        error_rate=0.1,
        stall=parse_stall("10s:2s"),
        reset_rate=0.05,
        accepted_keys=frozenset({"phc_a", "site:key"}),
        seed=42,
        header_timeout=0.5,
        overflow_rate=0.0,
    )
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_args(parser.parse_args(to_argv(config))) == config


def test_argparse_shows_our_message(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--latency", "gamma:1ms"])
    assert "unknown distribution 'gamma'" in capsys.readouterr().err


def test_fault_spec_updates() -> None:
    spec = FaultSpec().updated({"error_rate": 0.5, "latency": "fixed:1ms"})
    assert spec == FaultSpec(latency=Latency("fixed", 0.001), error_rate=0.5)
    assert spec.updated({"latency": None}).latency is None  # null clears
    assert spec.updated({"stall": "2s:1s"}).error_rate == 0.5  # untouched fields stay
    with pytest.raises(ValueError, match="unknown fault field"):
        spec.updated({"errors": 1})
    with pytest.raises(ValueError, match="error_rate"):
        spec.updated({"error_rate": 3})


@given(st.integers(min_value=0, max_value=2**32), st.floats(0, 1), st.floats(0, 1))
def test_fault_decisions_are_seeded(seed: int, error_rate: float, reset_rate: float) -> None:
    spec = FaultSpec(error_rate=error_rate, reset_rate=reset_rate)
    first, second = FaultInjector(spec, seed, 0.0), FaultInjector(spec, seed, 0.0)
    assert [first.decide(1.0) for _ in range(20)] == [second.decide(1.0) for _ in range(20)]


def test_fault_rates_and_counts() -> None:
    always = FaultInjector(FaultSpec(error_rate=1.0), 1, 0.0)
    assert {always.decide(0.0)[0] for _ in range(50)} == {"error"}
    never = FaultInjector(FaultSpec(reset_rate=0.0, error_rate=0.0), 1, 0.0)
    assert {never.decide(0.0)[0] for _ in range(50)} == {"answer"}
    some = FaultInjector(FaultSpec(reset_rate=0.3), 5, 0.0)
    actions = [some.decide(0.0)[0] for _ in range(2000)]
    assert 450 < actions.count("reset") < 750  # ~600 expected
    assert some.counts["resets"] == actions.count("reset")
    stalled = FaultInjector(FaultSpec(stall=Stall(10.0, 2.0)), 1, 100.0)
    action, hold = stalled.decide(111.0)  # 11 s in: 1 s of the window left
    assert action == "answer"
    assert hold == pytest.approx(1.0)
    assert stalled.counts["stalled"] == 1
