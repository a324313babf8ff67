"""The embedded mock's lifetime as a child process: it never dies of a stop signal while it
starts or exits (always a clean exit 0), and it never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from loadgen.mock.config import MockConfig
from loadgen.mock.faults import parse_latency
from loadgen.mock.process import LocalMock
from tests.run_support import ROOT, process_ended, wait_until
from tests.test_mock_process import post_event


class SignalledWhileStarting(LocalMock):
    """SIGTERM the child the moment it exists, long before it has imported anything."""

    def _read_url(self) -> str:
        os.kill(self.pid, signal.SIGTERM)
        return super()._read_url()


def test_sigterm_before_the_handlers_exist_still_exits_cleanly() -> None:
    mock = SignalledWhileStarting(rps_limit=0)
    mock.start()  # held until the handlers are in place: it announces itself, then stops
    assert mock.url.startswith("http://127.0.0.1:")
    assert mock.stop() == 0


def test_repeated_sigterm_while_exiting_never_kills_the_mock() -> None:
    # The old race: a SIGTERM after the handlers were removed met the default action (-15).
    # Here SIGTERMs keep coming every few ms after the first until the process has exited.
    mock = LocalMock(MockConfig(rps_limit=0, latency=parse_latency("fixed:300ms")))
    mock.start()
    proc = mock._proc
    assert proc is not None
    results: list[int] = []
    sender = threading.Thread(target=post_event, args=(mock.url, results))
    sender.start()
    wait_until(lambda: mock.stats()["apis"]["posthog"]["events"] >= 1, 10, "the request held")
    os.kill(proc.pid, signal.SIGTERM)
    sender.join(10)
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        os.kill(proc.pid, signal.SIGTERM)
        time.sleep(0.003)
    assert results == [200]  # the first SIGTERM let the answer in flight finish
    assert mock.stop() == 0


PARENT = textwrap.dedent(
    """
    import sys, time
    from loadgen.mock.process import LocalMock
    mock = LocalMock(rps_limit=0)
    mock.start()
    print(mock.pid, flush=True)
    time.sleep(60)
    """
)


def test_the_mock_ends_when_its_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not process_ended(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: process_ended(child), 10, f"the orphaned mock {child} to end")
    finally:
        parent.kill()
        parent.wait()
