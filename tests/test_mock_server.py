"""The HTTP layer over raw sockets: pipelining, limits, slowloris, bad input, 429s, faults,
stats. After every abuse the server must still answer."""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Iterator

import orjson
import pytest

from loadgen.mock.config import MockConfig
from loadgen.mock.faults import parse_latency
from loadgen.mock.testing import ThreadedMock

EVENT = b'{"api_key":"phc_t","event":"clicked","distinct_id":"u1"}'


def post(path: str, body: bytes, extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def exchange(port: int, data: bytes | list[bytes], timeout: float = 5.0) -> bytes:
    """Send `data` (pieces sent one by one), then read until the server closes."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for piece in data if isinstance(data, list) else [data]:
            sock.sendall(piece)
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def statuses(raw: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


def request(
    port: int, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def alive(port: int) -> bool:
    return request(port, "GET", "/_loadgen/health")[0] == 200


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    config = MockConfig(rps_limit=0, header_timeout=0.3, idle_timeout=0.5)
    with ThreadedMock(config) as served:
        yield served


def test_pipelined_requests_are_answered_in_order(mock: ThreadedMock) -> None:
    data = post("/e/", EVENT) + post("/e/", b"{}") + post("/e/", EVENT, "Connection: close\r\n")
    raw = exchange(mock.port, data)
    assert statuses(raw) == [200, 401, 200]  # then the server closed, as asked
    assert raw.endswith(b'{"status":1}')


def test_requests_after_connection_close_are_ignored(mock: ThreadedMock) -> None:
    data = post("/e/", EVENT, "Connection: close\r\n") + post("/e/", EVENT)
    assert statuses(exchange(mock.port, data)) == [200]


def test_http10_closes_after_the_answer(mock: ThreadedMock) -> None:
    raw = exchange(mock.port, b"GET /_loadgen/health HTTP/1.0\r\n\r\n")
    assert statuses(raw) == [200] and b"Connection: close" in raw


def test_expect_100_continue(mock: ThreadedMock) -> None:
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        head = f"POST /e/ HTTP/1.1\r\nContent-Length: {len(EVENT)}\r\nExpect: 100-continue\r\n\r\n"
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(EVENT)
        assert sock.recv(1000).startswith(b"HTTP/1.1 200")


ABUSE = [
    # binary garbage, e.g. a TLS hello sent to the plain port: 400 and close
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)), 400),
    # a request line that is not HTTP
    (b"HELLO THERE\r\n\r\n", 400),
    # an invalid Content-Length
    (b"POST /e/ HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
    # too many header bytes in total (70 x 1 KiB > 64 KiB)
    (
        b"GET /_loadgen/health HTTP/1.1\r\n"
        + b"".join(f"X-H{i}: {'v' * 1024}\r\n".encode() for i in range(70))
        + b"\r\n",
        431,
    ),
    # one header line that never ends, sent in pieces (bytes held inside the parser)
    ([b"GET / HTTP/1.1\r\nX-Big: "] + [b"v" * 16384] * 8, 431),
    # a URL longer than the header cap
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    # a body announced bigger than the route allows: refused before it is sent
    (b"POST /e/ HTTP/1.1\r\nContent-Length: 3000000\r\n\r\n", 413),
    # the same for Segment, which answers 400 for oversize calls
    (b"POST /v1/track HTTP/1.1\r\nContent-Length: 40000\r\n\r\n", 400),
    # a chunked body that grows past the limit without any Content-Length
    (
        b"POST /v1/track HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"8000\r\n"
        + b"x" * 0x8000
        + b"\r\n"
        + b"10\r\n"
        + b"x" * 16
        + b"\r\n0\r\n\r\n",
        400,
    ),
]


@pytest.mark.parametrize(("data", "status"), ABUSE)
def test_bad_input_gets_an_error_then_a_close(
    mock: ThreadedMock, data: bytes | list[bytes], status: int
) -> None:
    raw = exchange(mock.port, data)
    assert statuses(raw) == [status]
    assert b"Connection: close" in raw
    assert alive(mock.port)


def test_protocol_upgrade_is_answered_then_closed(mock: ThreadedMock) -> None:
    raw = exchange(
        mock.port, b"GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    )
    assert statuses(raw) == [404]  # what follows an upgrade is not HTTP: the server hangs up
    assert alive(mock.port)


def test_slowloris_gets_408_after_the_header_timeout(mock: ThreadedMock) -> None:
    started = time.monotonic()
    raw = exchange(mock.port, b"POST /e/ HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    assert statuses(raw) == [408]
    assert time.monotonic() - started < 3.0  # closed by the server, not by our timeout
    assert alive(mock.port)


def test_silent_and_idle_connections_are_closed(mock: ThreadedMock) -> None:
    assert exchange(mock.port, b"") == b""  # connected, sent nothing: closed, no answer
    raw = exchange(mock.port, post("/e/", EVENT))  # answered, then idle past idle_timeout
    assert statuses(raw) == [200]


def test_truncated_body_then_close_does_not_hurt(mock: ThreadedMock) -> None:
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        sock.sendall(b"POST /e/ HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{")
    assert alive(mock.port)


def test_rate_limit_answers_429_with_retry_after() -> None:
    with ThreadedMock(MockConfig(rps_limit=2)) as served:
        port = served.port
        codes = [request(port, "POST", "/e/", EVENT)[0] for _ in range(3)]
        assert codes == [200, 200, 429]  # burst = one second's worth
        status, headers, body = request(port, "POST", "/e/", EVENT)
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert b"rate" in body
        other = EVENT.replace(b"phc_t", b"phc_other")
        assert request(port, "POST", "/e/", other)[0] == 200  # per workspace
        seg = b'{"writeKey":"w","userId":"u","event":"e"}'
        assert [request(port, "POST", "/v1/track", seg)[0] for _ in range(3)] == [200, 200, 429]
        _, seg_headers, _ = request(port, "POST", "/v1/track", seg)
        assert int(seg_headers["X-RateLimit-Reset"]) >= 1 and "Retry-After" in seg_headers
        assert all(alive(port) for _ in range(10))  # admin routes are never limited
        stats = served.stats()
    assert stats["rate_limited"] == 4
    assert stats["apis"]["posthog"]["events"] == 3  # a 429 counts nothing


def test_faults_at_startup_and_at_runtime() -> None:
    config = MockConfig(rps_limit=0, error_rate=1.0, seed=1)
    with ThreadedMock(config) as served:
        port = served.port
        assert request(port, "POST", "/e/", EVENT)[0] == 503
        assert alive(port)  # admin routes are never fault-injected
        served.set_faults(error_rate=0)
        assert request(port, "POST", "/e/", EVENT)[0] == 200
        served.set_faults(latency="fixed:150ms")
        started = time.monotonic()
        assert request(port, "POST", "/e/", EVENT)[0] == 200
        assert time.monotonic() - started >= 0.14
        served.set_faults(latency=None, reset_rate=1.0)
        with pytest.raises(ConnectionResetError):
            exchange(port, post("/e/", EVENT))
        faults = served.set_faults(reset_rate=0)
        assert faults["injected"] == {"errors": 1, "resets": 1, "delayed": 1, "stalled": 0}
        status, _, body = request(port, "POST", "/_loadgen/faults", b'{"error_rate": 7}')
        assert status == 400 and b"error_rate" in body
        stats = served.stats()
    assert stats["apis"]["posthog"]["events"] == 2  # the 503 and the reset counted nothing
    assert stats["apis"]["posthog"]["by_status"] == {"200": 2, "503": 1}


def test_stall_holds_requests_until_the_window_ends() -> None:
    with ThreadedMock(MockConfig(rps_limit=0)) as served:
        served.set_faults(stall="400ms:300ms")  # windows [0.4, 0.7), [0.8, 1.1), ...
        time.sleep(0.45)
        started = time.monotonic()
        assert request(served.port, "POST", "/e/", EVENT)[0] == 200  # held, not dropped
        assert time.monotonic() - started >= 0.15
        assert served.stats()["faults"]["injected"]["stalled"] >= 1


def test_pipelined_answers_stay_in_order_under_random_latency() -> None:
    config = MockConfig(rps_limit=0, latency=parse_latency("uniform:0ms-30ms"), seed=3)
    with ThreadedMock(config) as served:
        bodies = [EVENT.replace(b"u1", f"user-{i}".encode()) for i in range(8)]
        bodies[3] = b"{}"  # a 401 in the middle marks the position
        data = b"".join(post("/e/", b) for b in bodies) + post(
            "/e/", EVENT, "Connection: close\r\n"
        )
        assert statuses(exchange(served.port, data)) == [
            200,
            200,
            200,
            401,
            200,
            200,
            200,
            200,
            200,
        ]


def test_seeded_faults_repeat_exactly() -> None:
    def run() -> list[int]:
        with ThreadedMock(MockConfig(rps_limit=0, error_rate=0.5, seed=11)) as served:
            return [request(served.port, "POST", "/e/", EVENT)[0] for _ in range(20)]

    first = run()
    assert first == run()
    assert {200, 503} == set(first)


def test_stats_count_and_reset() -> None:
    config = MockConfig(rps_limit=0, overflow_rate=1.0, overflow_burst=2.0)
    with ThreadedMock(config) as served:
        port = served.port
        batch = orjson.dumps(
            {"api_key": "phc_t", "batch": [{"event": "$pageview", "distinct_id": "hot"}] * 5}
        )
        assert request(port, "POST", "/batch/", batch)[0] == 200
        historical = batch[:-1] + b',"historical_migration":true}'
        assert request(port, "POST", "/batch/", historical)[0] == 200
        alias = orjson.dumps(
            {
                "api_key": "phc_t",
                "event": "$create_alias",
                "distinct_id": "x",
                "properties": {"alias": "y"},
            }
        )
        assert request(port, "POST", "/e/", alias)[0] == 200
        stats = served.stats()
        posthog = stats["apis"]["posthog"]
        assert (posthog["requests"], posthog["events"], posthog["historical_events"]) == (3, 11, 5)
        assert posthog["ops"] == {"alias": 1, "track": 10}
        assert posthog["overflow_events"] == 3 == stats["overflow_events"]  # 5 - burst of 2
        assert stats["ordering_violations"] == 1  # x was never identified
        assert stats["http"]["bytes_in"] > len(batch) * 2
        assert stats["requests_total"] == 3 and stats["events_accepted"] == 11
        assert stats["responses_by_status"] == {"200": 3}
        assert request(port, "POST", "/_loadgen/reset")[0] == 200
        fresh = served.stats()
        assert fresh["apis"]["posthog"]["events"] == 0 and fresh["overflow_events"] == 0
        assert request(port, "POST", "/e/", EVENT)[0] == 200
        assert request(port, "DELETE", "/_loadgen/stats")[0] == 200
        assert served.stats()["apis"]["posthog"]["events"] == 0
