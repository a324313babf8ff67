"""One conformance suite for every transport, run against the loopback fault servers.

Each test runs once per client: the fast transport on plain asyncio and on uvloop, and
the httpx transport, each through `send` and through `submit` (the engine's callback
path). The servers count connections and record requests, so keep-alive reuse, retries
and what went on the wire are checked from the server's side.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop

from loadgen.transport import (
    MAX_BODY_BYTES,
    USER_AGENT,
    RequestSpec,
    Response,
    Transport,
    TransportError,
)
from loadgen.transport.fast import FastTransport
from loadgen.transport.httpx_transport import HttpxTransport
from tests.fault_servers import (
    Channel,
    FaultServer,
    Reply,
    SeenRequest,
    keepalive_closer,
    rate_limited,
    reset_mid_response,
    responder,
    self_signed_identity,
    server_error,
    slow_body,
    stall,
)

POST = RequestSpec("POST", "/i/v0/e/", (("Content-Type", "application/json"),), b'{"e":1}')
Outcome = Response | TransportError


@dataclass(frozen=True)
class Client:
    """A transport class and the event loop it runs on."""

    name: str
    make: Callable[..., Transport]
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None

    def run(self, url: str, body: Callable[[Transport], Awaitable[Any]], **options: Any) -> Any:
        """Build a transport for `url`, run `body` with it, always close it."""

        async def main() -> Any:
            transport = self.make(url, **options)
            try:
                return await body(transport)
            finally:
                await transport.aclose()

        with asyncio.Runner(loop_factory=self.loop_factory) as runner:
            return runner.run(main())

    def send_all(
        self, url: str, count: int = 1, request: RequestSpec = POST, **options: Any
    ) -> list[Outcome]:
        """Send `count` requests one after another; each outcome, response or error."""

        async def body(transport: Transport) -> list[Outcome]:
            return [await outcome(transport, request) for _ in range(count)]

        result: list[Outcome] = self.run(url, body, **options)
        return result


async def outcome(transport: Transport, request: RequestSpec = POST) -> Outcome:
    try:
        return await transport.send(request)
    except TransportError as exc:
        return exc


class ViaSubmit:
    """A transport whose `send` goes through the inner transport's `submit`, checking the
    callback contract: called once, and never from inside `submit` itself."""

    def __init__(self, inner: FastTransport | HttpxTransport) -> None:
        self.inner = inner

    async def send(self, request: RequestSpec) -> Response:
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        inside = True
        delivered: list[Outcome] = []

        def on_done(result: Outcome) -> None:
            assert not inside, "on_done was called from inside submit"
            assert result not in delivered, "on_done was called twice"
            delivered.append(result)
            if not done.done():  # else the test gave up waiting (a cancelled send)
                done.set_result(result)

        self.inner.submit(request, on_done)
        inside = False
        result = await done
        if isinstance(result, TransportError):
            raise result
        return result

    def submit(self, request: RequestSpec, on_done: Callable[[Outcome], None]) -> None:
        self.inner.submit(request, on_done)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _submitting(cls: type[FastTransport] | type[HttpxTransport]) -> Callable[..., Transport]:
    return lambda url, **options: ViaSubmit(cls(url, **options))


CLIENTS = [
    Client("fast-asyncio", FastTransport),
    Client("fast-uvloop", FastTransport, uvloop.new_event_loop),
    Client("httpx", HttpxTransport),
    Client("fast-asyncio-submit", _submitting(FastTransport)),
    Client("fast-uvloop-submit", _submitting(FastTransport), uvloop.new_event_loop),
    Client("httpx-submit", _submitting(HttpxTransport)),
]


@pytest.fixture(params=CLIENTS, ids=[c.name for c in CLIENTS])
def client(request: pytest.FixtureRequest) -> Client:
    result: Client = request.param
    return result


def statuses(outcomes: list[Outcome]) -> list[int | str]:
    return [o.status if isinstance(o, Response) else o.kind for o in outcomes]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# keep-alive and framing


def test_keep_alive_reuses_one_connection(client: Client) -> None:
    with responder() as server:
        outcomes = client.send_all(server.url, 5, max_connections=1)
    assert statuses(outcomes) == [200] * 5
    assert (server.connections_accepted, server.requests_seen) == (1, 5)


def test_concurrent_senders_share_a_bounded_pool(client: Client) -> None:
    async def body(transport: Transport) -> list[Outcome]:
        return list(await asyncio.gather(*(outcome(transport) for _ in range(8))))

    with responder(Reply(delay_s=0.02)) as server:
        outcomes = client.run(server.url, body, max_connections=2)
    assert statuses(outcomes) == [200] * 8
    assert server.connections_accepted <= 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(close=True),  # says close and closes
        Reply(headers=(("Connection", "close"),)),  # says close, leaves it open: still unusable
    ],
    ids=["closes", "only-says-close"],
)
def test_connection_close_from_the_server_is_honoured(client: Client, reply: Reply) -> None:
    with responder(reply) as server:
        outcomes = client.send_all(server.url, 3, max_connections=1)
    assert statuses(outcomes) == [200] * 3
    assert (server.connections_accepted, server.requests_seen) == (3, 3)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_is_read_whatever_the_framing(client: Client, chunked: bool) -> None:
    payload = bytes(range(256)) * 8
    with responder(Reply(body=payload, chunked=chunked)) as server:
        outcomes = client.send_all(server.url, 2, max_connections=1)
    assert [o.body for o in outcomes if isinstance(o, Response)] == [payload, payload]
    assert server.connections_accepted == 1  # fully read, so the connection stayed usable


def test_large_body_is_capped_but_fully_drained(client: Client) -> None:
    with responder(Reply(body=b"z" * (MAX_BODY_BYTES * 3), chunked=True)) as server:
        outcomes = client.send_all(server.url, 2, max_connections=1)
    assert [len(o.body) for o in outcomes if isinstance(o, Response)] == [MAX_BODY_BYTES] * 2
    assert server.connections_accepted == 1


def test_head_response_has_no_body(client: Client) -> None:
    head = RequestSpec("HEAD", "/", ())
    with responder() as server:
        outcomes = client.send_all(server.url, 2, head)
    assert [(o.status, o.body) for o in outcomes if isinstance(o, Response)] == [(200, b"")] * 2


# what reaches the server


def test_request_bytes_reach_the_server_intact(client: Client) -> None:
    request = RequestSpec(
        "POST",
        "/batch/?compression=gzip",
        (("X-Trace", "abc"), ("Content-Type", "text/plain")),
        b"x" * 300,
    )
    with responder() as server:
        client.send_all(server.url, 1, request)
    (seen,) = server.requests
    assert (seen.method, seen.path, seen.body) == ("POST", "/batch/?compression=gzip", b"x" * 300)
    assert seen.header("Content-Length") == "300"
    assert seen.header("X-Trace") == "abc"
    assert seen.header("Host") == f"127.0.0.1:{server.port}"
    assert seen.header("User-Agent") == USER_AGENT
    assert seen.header("Transfer-Encoding") is None


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_empty_body_still_sends_content_length(client: Client, method: str) -> None:
    with responder() as server:
        client.send_all(server.url, 1, RequestSpec(method, "/api/v1/customers/7", ()))
    (seen,) = server.requests
    assert (seen.method, seen.header("Content-Length"), seen.body) == (method, "0", b"")


def test_url_path_prefixes_every_request(client: Client) -> None:
    with responder() as server:
        client.send_all(server.url + "/ingest/", 1, RequestSpec("GET", "/e/?v=1", ()))
    assert [r.path for r in server.requests] == ["/ingest/e/?v=1"]


@pytest.mark.parametrize(
    "headers",
    [
        (("X-Bad", "a\r\nInjected: 1"),),  # would split the request
        (("Content-Length", "5"),),  # the transport frames the body itself
        (("Bad Name", "x"),),  # not an HTTP token
    ],
)
def test_unsafe_requests_are_refused_before_sending(
    client: Client, headers: tuple[tuple[str, str], ...]
) -> None:
    with responder() as server:
        outcomes = client.send_all(server.url, 1, RequestSpec("POST", "/", headers, b"x"))
    assert statuses(outcomes) == ["other"]
    assert server.requests_seen == 0


# responses that are not 2xx


def test_429_carries_retry_after_seconds(client: Client) -> None:
    with rate_limited("7") as server:
        (response,) = client.send_all(server.url)
    assert isinstance(response, Response)
    assert (response.status, response.retry_after_s) == (429, 7.0)


def test_5xx_is_a_response_not_an_error(client: Client) -> None:
    with server_error(503, b"busy") as server:
        outcomes = client.send_all(server.url, 2, max_connections=1)
    assert [(o.status, o.body) for o in outcomes if isinstance(o, Response)] == [(503, b"busy")] * 2
    assert server.connections_accepted == 1


# failures


@pytest.mark.parametrize("rst", [True, False], ids=["rst", "fin"])
def test_reset_mid_response_is_an_error_and_never_retried(client: Client, rst: bool) -> None:
    with reset_mid_response(rst=rst) as server:
        outcomes = client.send_all(server.url)
    assert statuses(outcomes) == ["reset"]
    assert server.requests_seen == 1


def test_connect_refused(client: Client) -> None:
    outcomes = client.send_all(f"http://127.0.0.1:{closed_port()}", timeout_s=2.0)
    assert statuses(outcomes) == ["refused"]


def test_stalled_server_times_out_and_the_connection_is_discarded(client: Client) -> None:
    with stall() as server:
        outcomes = client.send_all(server.url, 2, max_connections=1, timeout_s=0.25)
    assert statuses(outcomes) == ["timeout", "timeout"]
    assert server.connections_accepted == 2


def test_timeout_covers_the_whole_response_not_each_read(client: Client) -> None:
    with slow_body(total_s=1.5, pieces=15) as server:
        outcomes = client.send_all(server.url, timeout_s=0.4)
    assert statuses(outcomes) == ["timeout"]


def test_timeout_covers_waiting_for_a_connection(client: Client) -> None:
    async def body(transport: Transport) -> list[Outcome]:
        return list(await asyncio.gather(outcome(transport), outcome(transport)))

    # the second request cannot finish before 2 x 0.3 s > 0.55 s; the first has 0.25 s spare
    with responder(Reply(delay_s=0.3)) as server:
        outcomes = client.run(server.url, body, max_connections=1, timeout_s=0.55)
    assert sorted(map(str, statuses(outcomes))) == ["200", "timeout"]


def test_cancelled_request_discards_its_connection(client: Client) -> None:
    if client.name.endswith("-submit"):
        pytest.skip("a submitted request cannot be cancelled: the engine closes the transport")

    def reply(request: SeenRequest) -> Reply:
        return Reply(delay_s=1.0 if request.path == "/slow" else 0.0)

    async def body(transport: Transport) -> Outcome:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(transport.send(RequestSpec("GET", "/slow", ())), 0.1)
        return await outcome(transport)

    with responder(reply) as server:
        result = client.run(server.url, body, max_connections=1)
    assert statuses([result]) == [200]
    assert server.connections_accepted == 2  # the half-used connection was not reused


def test_failures_free_their_pool_slots(client: Client) -> None:
    with keepalive_closer(serve_per_connection=0) as server:
        outcomes = client.send_all(server.url, 3, max_connections=1, timeout_s=2.0)
    assert statuses(outcomes) == ["reset"] * 3  # a fresh connection's failure is not retried
    assert (server.connections_accepted, server.requests_seen) == (3, 3)


def test_stale_keep_alive_connection_is_retried_once_on_a_fresh_one(client: Client) -> None:
    with keepalive_closer(serve_per_connection=1) as server:
        outcomes = client.send_all(server.url, 2, max_connections=1)
    assert statuses(outcomes) == [200, 200]
    # the second request reached the closing connection, then a new one
    assert (server.connections_accepted, server.requests_seen) == (2, 3)


def test_idle_connection_closed_by_the_server_is_replaced(client: Client) -> None:
    async def body(transport: Transport) -> list[Outcome]:
        first = await outcome(transport)
        await asyncio.sleep(0.3)  # the server closes idle connections after 0.1 s
        return [first, await outcome(transport)]

    with responder(idle_close_s=0.1) as server:
        outcomes = client.run(server.url, body, max_connections=1)
    assert statuses(outcomes) == [200, 200]
    assert server.connections_accepted == 2


def test_close_fails_in_flight_and_later_requests(client: Client) -> None:
    async def body(transport: Transport) -> list[Outcome]:
        pending = asyncio.ensure_future(outcome(transport))
        await asyncio.sleep(0.1)
        await transport.aclose()
        return [await pending, await outcome(transport)]

    with stall() as server:
        outcomes = client.run(server.url, body, timeout_s=5.0)
    assert statuses(outcomes) == ["closed", "closed"]


class _NoDnsLoop(asyncio.SelectorEventLoop):
    """A loop whose name lookups all fail, so no query ever leaves the machine."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[str] = []

    async def getaddrinfo(self, host: Any, port: Any, **kwargs: Any) -> Any:
        self.lookups.append(host.decode() if isinstance(host, bytes) else str(host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize("make", [FastTransport, HttpxTransport])
def test_name_resolution_failure(make: Callable[..., Transport]) -> None:
    loop = _NoDnsLoop()
    outcomes = Client("no-dns", make, lambda: loop).send_all("http://loadgen-test.invalid:8080")
    assert statuses(outcomes) == ["dns"]
    assert loop.lookups == ["loadgen-test.invalid"]


def test_fast_pool_stays_bounded_through_mixed_faults() -> None:
    """Many senders, few connections, and a server that misbehaves in every way in turn."""
    seen = [0]

    async def handle(request: SeenRequest, channel: Channel) -> bool:
        seen[0] += 1
        turn = seen[0] % 4
        if turn == 1 and request.index > 0:
            return False  # the keep-alive race: closed unanswered
        if turn == 2:
            channel.reset()
            return False
        await channel.send(Reply(close=turn == 3).encode())
        return turn != 3

    async def body(transport: Transport) -> tuple[list[Outcome], int]:
        assert isinstance(transport, FastTransport)
        peak = 0

        async def sender() -> list[Outcome]:
            nonlocal peak
            results = []
            for _ in range(10):
                results.append(await outcome(transport))
                peak = max(peak, transport.open_connections)
            return results

        batches = await asyncio.gather(*(sender() for _ in range(20)))
        return [o for batch in batches for o in batch], peak

    with FaultServer(handle) as server:
        outcomes, peak = CLIENTS[1].run(server.url, body, max_connections=4, timeout_s=5.0)
    assert set(statuses(outcomes)) <= {200, "reset"}
    assert statuses(outcomes).count(200) >= 50  # most requests got through
    assert peak <= 4


# TLS


def test_tls_without_verification_accepts_a_self_signed_cert(client: Client) -> None:
    with responder(tls=self_signed_identity()) as server:
        outcomes = client.send_all(server.url, 2, max_connections=1, verify_tls=False)
    assert statuses(outcomes) == [200, 200]
    assert server.connections_accepted == 1


def test_tls_verification_rejects_a_self_signed_cert(client: Client) -> None:
    with responder(tls=self_signed_identity()) as server:
        outcomes = client.send_all(server.url, timeout_s=5.0)
    assert statuses(outcomes) == ["tls"]
    assert server.requests_seen == 0


def test_tls_with_a_trusted_cert_sends_the_host_as_sni(client: Client) -> None:
    identity = self_signed_identity()
    with responder(tls=identity) as server:
        url = f"https://localhost:{server.port}"
        outcomes = client.send_all(url, ssl_context=identity.client_context())
    assert statuses(outcomes) == [200]
    assert "localhost" in server.sni_names


def test_fast_reports_time_queued_for_a_pooled_connection_apart() -> None:
    # One connection, a server that takes 0.2 s: the second of two concurrent requests
    # waits ~0.2 s inside loadgen for the connection, which is not the server's time.
    async def main() -> list[float]:
        transport = FastTransport(server.url, max_connections=1, timeout_s=5)
        request = RequestSpec("POST", "/i/v0/e/", (("Content-Type", "application/json"),), b"{}")
        try:
            responses = await asyncio.gather(transport.send(request), transport.send(request))
        finally:
            await transport.aclose()
        return sorted(r.queued_s for r in responses)

    with responder(Reply(delay_s=0.2)) as server:
        first, second = asyncio.run(main())
    assert first == 0.0
    assert 0.15 <= second < 2.0


async def _submit_all(transport: FastTransport, requests: int) -> list[Outcome]:
    """Submit `requests` at once (as the engine does on a wake-up); every outcome."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[Outcome]] = [loop.create_future() for _ in range(requests)]
    for future in futures:
        transport.submit(POST, future.set_result)
    return list(await asyncio.gather(*futures))


@pytest.mark.parametrize("loop_factory", [None, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_fast_submit_lines_up_requests_for_a_full_pool(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
) -> None:
    # 2 connections, 12 requests submitted at once, a server taking 50 ms: the 10 that
    # find every connection busy wait in line, each sent on the next one released, and
    # their time in line is reported apart from the server's.
    async def main() -> list[Outcome]:
        transport = FastTransport(server.url, max_connections=2, timeout_s=5)
        try:
            await _submit_all(transport, 1)  # one open connection, so the line forms at once
            return await _submit_all(transport, 12)
        finally:
            await transport.aclose()

    with responder(Reply(delay_s=0.05)) as server, asyncio.Runner(loop_factory=loop_factory) as r:
        outcomes = r.run(main())
    assert statuses(outcomes) == [200] * 12
    assert (server.connections_accepted, server.requests_seen) == (2, 13)
    queued = sorted(o.queued_s for o in outcomes if isinstance(o, Response))
    assert queued[:1] == [0.0]  # the idle connection took the first at once
    assert queued[-1] >= 0.2  # the last waited for ~5 rounds of 50 ms


def test_fast_submit_times_out_in_line() -> None:
    # One connection held by a stalled request: the one in line gives up at its deadline.
    async def main() -> list[Outcome]:
        transport = FastTransport(server.url, max_connections=1, timeout_s=0.3)
        try:
            return await _submit_all(transport, 2)
        finally:
            await transport.aclose()

    with stall() as server:
        outcomes = asyncio.run(main())
    assert statuses(outcomes) == ["timeout", "timeout"]
    assert "no connection free" in str(outcomes[1])


def test_fast_close_reports_closed_to_requests_in_line() -> None:
    async def main() -> list[Outcome]:
        transport = FastTransport(server.url, max_connections=1, timeout_s=5)
        await _submit_all(transport, 1)  # the connection is open and idle
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Outcome]] = [loop.create_future() for _ in range(3)]
        for future in futures:
            transport.submit(RequestSpec("GET", "/stall", ()), future.set_result)
        await asyncio.sleep(0.1)
        await transport.aclose()
        return list(await asyncio.gather(*futures))

    def reply(request: SeenRequest) -> Reply:
        return Reply(delay_s=5.0 if request.path == "/stall" else 0.0)

    with responder(reply) as server:
        outcomes = asyncio.run(main())
    assert statuses(outcomes) == ["closed"] * 3
