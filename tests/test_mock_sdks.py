"""Acceptance: the official SDKs, pointed at the mock, succeed, and the mock counts exactly
what each sent. The proof that the mock speaks the real protocols.

Every test runs under a guard that refuses any connection or DNS lookup other than
loopback, so an SDK that phoned home (feature flags, OAuth, telemetry) would fail loudly.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from loadgen.mock.config import MockConfig
from loadgen.mock.process import LocalMock
from loadgen.mock.testing import ThreadedMock

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK_HOSTS:
            raise AssertionError(f"an SDK tried to reach {address!r}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK_HOSTS:
            raise AssertionError(f"an SDK tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def mock() -> Iterator[ThreadedMock]:
    with ThreadedMock(MockConfig(rps_limit=0)) as served:
        yield served


@pytest.mark.usefixtures("loopback_only")
def test_posthog_sdk(mock: ThreadedMock) -> None:
    from posthog import Posthog

    errors: list[object] = []
    client = Posthog(
        "phc_sdk_test_token",
        host=mock.url,
        sync_mode=True,
        gzip=True,  # Content-Encoding: gzip, as production clients often send
        enable_local_evaluation=False,
        enable_exception_autocapture=False,
        max_retries=0,
        on_error=lambda err, _batch: errors.append(err),
    )
    client.capture("page viewed", distinct_id="anon-1")
    client.capture("$identify", distinct_id="user-1", properties={"$anon_distinct_id": "anon-1"})
    for _ in range(3):
        client.capture("clicked", distinct_id="user-1", properties={"button": "buy"})
    client.alias(previous_id="user-1", distinct_id="user-1-email")
    client.alias(previous_id="never-identified", distinct_id="other")  # out of order on purpose
    client.shutdown()

    posthog = mock.stats()["apis"]["posthog"]
    assert errors == []
    assert posthog["by_status"] == {"200": 7}  # sync mode: one POST /batch/ per call
    assert posthog["events"] == 7
    assert posthog["ops"] == {"alias": 2, "identify": 1, "track": 4}
    assert posthog["event_names"] == {
        "$create_alias": 2,
        "$identify": 1,
        "clicked": 3,
        "page viewed": 1,
    }
    top = {row["id"]: row["count"] for row in posthog["distinct_ids"]["top"]}
    assert top == {"user-1": 5, "anon-1": 1, "never-identified": 1}
    assert posthog["ordering_violations"] == 1


@pytest.mark.usefixtures("loopback_only")
def test_segment_sdk(mock: ThreadedMock) -> None:
    from segment.analytics import Client

    errors: list[object] = []
    client = Client(
        "segment-write-key",
        host=mock.url,
        sync_mode=True,
        gzip=True,
        max_retries=0,
        on_error=lambda err, _batch: errors.append(err),
    )
    client.track(anonymous_id="anon-9", event="Page Opened")
    client.identify(user_id="user-9", traits={"plan": "pro"}, anonymous_id="anon-9")
    client.track(user_id="user-9", event="Order Completed", properties={"total": 3})
    client.track(user_id="user-9", event="Order Completed")
    client.alias(previous_id="user-9", user_id="user-9b")
    client.flush()

    segment = mock.stats()["apis"]["segment"]
    assert errors == []
    assert segment["by_status"] == {"200": 5}  # sync mode: one POST /v1/batch per call
    assert segment["events"] == 5
    assert segment["ops"] == {"alias": 1, "identify": 1, "track": 3}
    assert segment["event_names"] == {"Order Completed": 2, "Page Opened": 1}
    top = {row["id"]: row["count"] for row in segment["distinct_ids"]["top"]}
    assert top == {"user-9": 4, "anon-9": 1}
    assert segment["ordering_violations"] == 0


@pytest.mark.usefixtures("loopback_only")
def test_customerio_sdk() -> None:
    from customerio import CustomerIO

    # The SDK only builds https:// URLs: serve TLS with a throwaway certificate it trusts.
    with LocalMock(MockConfig(rps_limit=0), tls=True) as served:
        port = int(served.url.rsplit(":", 1)[1])
        client = CustomerIO("site-1", "api-key-1", host="127.0.0.1", port=port, retries=0)
        client.http.verify = str(served.ca_path)
        client.http.trust_env = False  # else REQUESTS_CA_BUNDLE / proxies from env override
        client.track_anonymous("anon-5", "landing viewed")
        client.identify("user-5", email="u5@example.com", plan="pro")
        client.track("user-5", "purchased", data={"amount": 10})
        client.track("user-5", "purchased")
        client.merge_customers("id", "user-5", "id", "anon-5")
        client.merge_customers("email", "nobody@example.com", "id", "x")  # never identified
        client.batch(
            [
                {"type": "person", "action": "identify", "identifiers": {"id": "user-6"}},
                {"type": "person", "action": "event", "identifiers": {"id": "user-6"}, "name": "b"},
            ]
        )
        client.close()
        stats = served.stats()
    cio = stats["apis"]["customerio"]
    assert cio["by_status"] == {"200": 7}
    assert cio["events"] == 8
    assert cio["ops"] == {"alias": 2, "identify": 2, "track": 4}
    assert cio["event_names"] == {"b": 1, "landing viewed": 1, "purchased": 2}
    top = {row["id"]: row["count"] for row in cio["distinct_ids"]["top"]}
    assert top == {"user-5": 4, "anon-5": 1, "nobody@example.com": 1, "user-6": 2}
    assert cio["ordering_violations"] == 1
