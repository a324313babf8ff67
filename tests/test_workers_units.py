"""The pure parts of `--workers`: the count, the progress protocol, the sum the parent
shows, the signals it holds back until a worker is ready, and the words for a lost worker."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.arrivals.plan import Plan
from loadgen.cli.arguments import load_plan
from loadgen.cli.running import _rate_cap
from loadgen.metrics import LiveSnapshot
from loadgen.results.artifact import validate_artifact
from loadgen.run.options import RunOptions
from loadgen.run.supervisor import Worker
from loadgen.run.worker_progress import (
    EMPTY_SNAPSHOT,
    MAX_LINE_BYTES,
    WorkerMessage,
    decode,
    encode,
    sum_snapshots,
)
from loadgen.run.workers import WorkersError, WorkersJob, _merged, parse_workers
from tests.run_support import profile, write_profile

# (--workers, cores, count, warns)
COUNTS = [
    ("auto", 4, 4, False),  # one per core
    (" AUTO ", 2, 2, False),  # as typed, any case
    ("1", 2, 1, False),  # the single-process run
    ("2", 2, 2, False),  # as many as cores: no warning
    ("3", 2, 3, True),  # more than cores: allowed, with a warning
    ("64", 64, 64, False),  # the ceiling
]


@pytest.mark.parametrize(("text", "cores", "count", "warns"), COUNTS)
def test_worker_counts(text: str, cores: int, count: int, warns: bool) -> None:
    got, warning = parse_workers(text, cores)
    assert got == count
    assert (warning is not None) == warns
    if warning:
        assert f"more than this machine's {cores} cores" in warning


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("0", "give 1 to 64"),  # nobody to run it
        ("-2", "give 1 to 64"),  # negative
        ("65", "give 1 to 64"),  # above the ceiling
        ("1.5", "whole number"),  # not whole
        ("", "whole number"),  # empty
        ("many", "whole number"),  # a word that is not auto
    ],
)
def test_worker_counts_refused(text: str, said: str) -> None:
    with pytest.raises(WorkersError, match=said):
        parse_workers(text, 2)


# (the guard's cap for this process, the share the parent gave, the cap the worker keeps)
CAPS = [
    (None, None, None),  # no cap anywhere
    (100.0, None, 100.0),  # a single run: the guard's
    (100.0, 50.0, 50.0),  # a worker: its share
    (100.0, 500.0, 100.0),  # a share above the guard's cap cannot raise it
    (None, 50.0, 50.0),  # no guard cap: the share still holds
]


@pytest.mark.parametrize(("approved", "share", "kept"), CAPS)
def test_a_worker_keeps_its_share_of_the_cap(
    approved: float | None, share: float | None, kept: float | None
) -> None:
    assert _rate_cap(approved, share) == kept


counts = st.integers(min_value=0, max_value=10**9)
millis = st.none() | st.floats(min_value=0, max_value=3.6e6, allow_nan=False)
tallies = st.dictionaries(st.sampled_from(["2xx", "4xx", "429", "5xx"]), counts, max_size=4)
snapshots = st.builds(
    LiveSnapshot,
    planned=counts,
    started=counts,
    completed=counts,
    dropped=counts,
    in_flight=counts,
    retries=counts,
    status=tallies,
    errors=st.dictionaries(st.sampled_from(["timeout", "connect"]), counts, max_size=2),
    transport_errors=counts,
    p50_ms=millis,
    p95_ms=millis,
    p99_ms=millis,
    achieved_rps=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    planned_rps=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)


@given(snapshots)
def test_a_snapshot_crosses_the_pipe_unchanged(snapshot: LiveSnapshot) -> None:
    assert decode(encode(progress=snapshot)) == WorkerMessage(progress=snapshot)


@given(st.lists(snapshots, max_size=6))
def test_the_sum_adds_counts_and_shows_the_slowest_percentile(
    snaps: list[LiveSnapshot],
) -> None:
    total = sum_snapshots(snaps)
    assert total.started == sum(s.started for s in snaps)
    assert total.planned == sum(s.planned for s in snaps)
    assert total.in_flight == sum(s.in_flight for s in snaps)
    assert total.achieved_rps == pytest.approx(sum(s.achieved_rps for s in snaps))
    for status in ("2xx", "429"):
        assert total.status.get(status, 0) == sum(s.status.get(status, 0) for s in snaps)
    known = [s.p99_ms for s in snaps if s.p99_ms is not None]
    assert total.p99_ms == (max(known) if known else None)


@given(snapshots)
def test_one_workers_sum_is_its_own_snapshot(snapshot: LiveSnapshot) -> None:
    assert sum_snapshots([snapshot]) == replace(
        snapshot, status=dict(snapshot.status), errors=dict(snapshot.errors)
    )


def test_no_snapshot_yet_is_all_zero() -> None:
    assert sum_snapshots([]) == EMPTY_SNAPSHOT


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"ready": true}\n', WorkerMessage(ready=True)),  # handlers in place
        (b'{"artifact": "/r/p.json"}\n', WorkerMessage(artifact="/r/p.json")),  # its part
        (b"results: /r/p.json\n", None),  # a stray print, not JSON
        (b'{"ready": tr', None),  # a line torn by a dying worker
        (b"[1, 2]\n", None),  # JSON, but not an object
        (b'{"ready": "yes"}\n', None),  # not the protocol's true
        (b'{"progress": {"planned": 1}}\n', None),  # a snapshot missing its fields
        (b'{"other": 1}\n', None),  # a message this parent does not know
    ],
)
def test_decoding_lines(line: bytes, message: WorkerMessage | None) -> None:
    assert decode(line) == message


@dataclass
class FakeProcess:
    sent: list[signal.Signals] = field(default_factory=list)

    def send_signal(self, sig: signal.Signals) -> None:
        self.sent.append(sig)


def test_signals_wait_until_the_worker_is_ready(tmp_path: Path) -> None:
    worker = Worker(1, "1/2", tmp_path / "part.json", tmp_path / "log")
    process = FakeProcess()
    worker.process = process  # type: ignore[assignment]  # only send_signal is used
    worker.deliver(signal.SIGTERM)  # before its handlers: would kill it, held
    assert process.sent == []
    worker.became_ready()
    assert process.sent == [signal.SIGTERM]  # delivered once ready, once
    worker.deliver(signal.SIGINT)  # ready: at once
    assert process.sent == [signal.SIGTERM, signal.SIGINT]


# (exit code, what its stderr said, the words)
LOST = [
    (-9, "", "killed by SIGKILL without results"),  # SIGKILL: nothing to say
    (-40, "", "killed by signal 40 without results"),  # a real-time signal has no name
    (3, "loadgen: profile broken\n", "exited 3 without results; it said: loadgen: profile"),
    (None, "", "did not finish without results"),  # never reaped (the parent was cancelled)
]


@pytest.mark.parametrize(("code", "said", "words"), LOST)
def test_why_a_worker_was_lost(tmp_path: Path, code: int | None, said: str, words: str) -> None:
    worker = Worker(2, "2/2", tmp_path / "part.json", tmp_path / "log", returncode=code)
    worker.log.write_text(said)
    assert worker.lost_because().startswith(words)


def _part(plan: Plan, profile_hash: str) -> dict[str, Any]:
    """A worker's artifact of `plan` with nothing sent (and the profile hash given)."""
    from loadgen.metrics import RunMetrics
    from loadgen.results.artifact import build_artifact

    profile = plan.profile
    now = datetime.now(UTC)
    return build_artifact(
        metrics=RunMetrics([s.name for s in profile.scenarios]),
        status="completed",
        status_reason=None,
        profile={"name": profile.name, "path": str(profile.path), "hash": profile_hash},
        target={"name": plan.target.name, "url": "http://127.0.0.1:9"},
        started_at=now,
        ended_at=now,
        duration_s=1.0,
        generator={"cpu_percent": 1.0},
    )


def test_parts_that_cannot_be_merged_still_give_an_aborted_artifact(tmp_path: Path) -> None:
    """Parts of two different profiles (a file edited while the workers started): no part
    stands for the run, and the artifact says why instead of the run failing unwritten."""
    path = write_profile(tmp_path, profile("merge"))
    plan = load_plan(path, "local", None)
    job = WorkersJob(plan, RunOptions(), 2, "local", None)
    workers = [Worker(i, f"{i}/2", tmp_path / f"p{i}", tmp_path / f"l{i}") for i in (1, 2)]
    docs = [(workers[0], _part(plan, "a" * 64)), (workers[1], _part(plan, "b" * 64))]
    doc = _merged(job, docs, workers, "http://127.0.0.1:9", datetime.now(UTC), [])
    assert doc["status"] == "aborted"
    assert "the workers' parts could not be merged" in (doc["status_reason"] or "")
    assert doc["run"]["segments"] == [] and doc["run"]["lost_segments"] == []
    validate_artifact(doc)
    merged = _merged(job, docs[:1], workers, "http://127.0.0.1:9", datetime.now(UTC), [])
    assert merged["status"] == "aborted"  # one part alone: worker 2 is named as lost
    assert "worker 2 (segment 2/2) lost: did not finish" in (merged["status_reason"] or "")


def test_a_line_too_long_for_the_protocol_is_dropped_and_reading_goes_on(tmp_path: Path) -> None:
    """A stray print without a newline (64 KiB or more) must not stall the pipe's reader:
    what follows it still arrives."""
    import anyio
    from anyio.streams.buffered import BufferedByteReceiveStream

    from loadgen.run.supervisor import _read_messages

    worker = Worker(1, "1/1", tmp_path / "part.json", tmp_path / "log")

    async def feed_and_read() -> None:
        send, receive = anyio.create_memory_object_stream[bytes](10)
        async with send:
            await send.send(b"x" * (MAX_LINE_BYTES + 10))
            await send.send(b'\n{"ready": true}\n{"artifact": "/r/p.json"}\n')
        with anyio.fail_after(5):
            await _read_messages(worker, BufferedByteReceiveStream(receive))

    anyio.run(feed_and_read)
    assert worker.ready and worker.artifact == "/r/p.json"
