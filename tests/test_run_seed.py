"""`--seed` is 0 to 2^64-1 (the artifact stores it as a 64-bit JSON integer): anything else
is a usage error before the run, never a crash after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fault_servers import Reply, responder
from tests.run_support import cli, profile, read_checked, write_profile, write_targets
from tests.run_support import target as target_table

MAX_SEED = 2**64 - 1


# (seed, why it is refused)
REFUSED = [
    (str(2**64), "one past the largest: crashed writing the artifact after the whole run"),
    (str(2**70), "far above"),
    ("-1", "negative: no meaning as a seed, and outside the documented range"),
]


@pytest.mark.parametrize(("seed", "why"), REFUSED, ids=[r[0] for r in REFUSED])
def test_out_of_range_seed_is_a_usage_error_before_the_first_request(
    tmp_path: Path, seed: str, why: str
) -> None:
    path = write_profile(tmp_path, profile("seed", stages=[("1s", 10)]))
    with responder(Reply()) as server:
        write_targets(tmp_path, srv=target_table(server.url))
        result = cli("run", path, "-t", "srv", "--seed", seed, "--out", tmp_path / "o.json")
        assert server.requests_seen == 0, why
    assert result.returncode == 2, result.explain()
    assert "Invalid value for '--seed'" in result.stderr, result.stderr
    assert not (tmp_path / "o.json").exists()


def test_the_largest_seed_runs_and_is_recorded(tmp_path: Path) -> None:
    path = write_profile(tmp_path, profile("seed", stages=[("1s", 5)]))
    out = tmp_path / "o.json"
    with responder(Reply()) as server:
        write_targets(tmp_path, srv=target_table(server.url))
        result = cli("run", path, "-t", "srv", "--seed", str(MAX_SEED), "--out", out, "-q")
    assert result.returncode == 0, result.explain()
    assert read_checked(out)["run"]["seed"] == MAX_SEED


def test_help_states_the_seed_range() -> None:
    result = cli("run", "--help")
    assert "0 to 2^64-1" in " ".join(result.stdout.split()), result.stdout  # however wrapped
