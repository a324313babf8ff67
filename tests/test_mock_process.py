"""`LocalMock` and `python -m loadgen.mock`: start, admin calls, clean SIGTERM exit."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading

import pytest

from loadgen.mock.config import MockConfig
from loadgen.mock.faults import parse_latency
from loadgen.mock.process import LocalMock, MockStartError
from tests.run_support import wait_until

EVENT = b'{"api_key":"phc_t","event":"clicked","distinct_id":"u1"}'


def post_event(url: str, results: list[int]) -> None:
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/i/v0/e/", body=EVENT)
        results.append(conn.getresponse().status)
    finally:
        conn.close()


def test_local_mock_serves_counts_and_exits_zero_on_sigterm() -> None:
    with LocalMock(rps_limit=0) as mock:  # keyword overrides build the MockConfig
        assert mock.config == MockConfig(rps_limit=0)
        assert mock.url.startswith("http://127.0.0.1:")
        results: list[int] = []
        post_event(mock.url, results)
        assert results == [200]
        stats = mock.stats()
        assert stats["apis"]["posthog"]["events"] == 1
        faults = mock.set_faults(error_rate=1.0)
        assert faults["error_rate"] == 1.0
        post_event(mock.url, results)
        assert results[-1] == 503
        with pytest.raises(ValueError, match="error_rate"):
            mock.set_faults(error_rate=2)
        mock.reset()
        assert mock.stats()["apis"]["posthog"]["events"] == 0
    assert mock.returncode == 0  # SIGTERM: a clean exit


def test_in_flight_answers_finish_on_sigterm() -> None:
    mock = LocalMock(MockConfig(rps_limit=0, latency=parse_latency("fixed:400ms")))
    with mock:
        results: list[int] = []
        sender = threading.Thread(target=post_event, args=(mock.url, results))
        sender.start()
        # the request is in (counted when accepted), its answer is held for 400 ms; a fixed
        # sleep here could signal a busy machine's mock before the request arrived
        wait_until(lambda: mock.stats()["apis"]["posthog"]["events"] >= 1, 10, "the request")
        os.kill(mock.pid, signal.SIGTERM)
        sender.join(5)
    assert results == [200]
    assert mock.returncode == 0


def test_bad_options_fail_to_start_with_the_reason() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "loadgen.mock", "--latency", "gamma:1ms"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "--latency 'gamma:1ms': unknown distribution" in bad.stderr


def test_start_failure_is_reported() -> None:
    with LocalMock(MockConfig(rps_limit=0)) as first:
        taken = int(first.url.rsplit(":", 1)[1])
        second = LocalMock(MockConfig(port=taken))
        with pytest.raises(MockStartError, match="cannot listen"):
            second.start()


def test_local_mock_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalMock(MockConfig(host="0.0.0.0"))
