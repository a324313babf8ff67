"""`loadgen run --metrics-port N`: the run's live metrics in Prometheus text format.

prometheus-client serves them from its own thread; RunMetrics is not thread-safe, so the
event loop *publishes* an immutable `MetricsView` (about 4 times a second) and the custom
collector only reads the latest one (a reference swap). Imported only with the flag.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry

from loadgen.errors import UsageError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class Quantiles:
    """One latency distribution: seconds at QUANTILES, how many values and their sum."""

    values: tuple[float, ...]
    count: int
    sum_s: float


@dataclass(frozen=True, slots=True)
class ScenarioView:
    sent: int
    dropped: int
    in_flight: int
    by_class: Mapping[str, int]  # responses by status class (2xx, 3xx, 4xx, 429, 5xx, other)
    errors_by_kind: Mapping[str, int]
    latency: Quantiles
    service: Quantiles


@dataclass(frozen=True, slots=True)
class MetricsView:
    """Everything the exporter shows, as plain numbers (built on the event loop)."""

    planned: int = 0
    in_flight: int = 0
    planned_rps: float = 0.0
    achieved_rps: float = 0.0
    cpu_percent: float = 0.0
    scenarios: Mapping[str, ScenarioView] = field(default_factory=dict)
    latency: Quantiles = Quantiles((), 0, 0.0)
    service: Quantiles = Quantiles((), 0, 0.0)


def _summary(name: str, doc: str, labels: Mapping[str, Quantiles]) -> Metric:
    """A summary family with quantiles (prometheus-client only writes them this way)."""
    metric = Metric(name, doc, "summary")
    for label, q in labels.items():
        base = {"scenario": label} if label else {}
        for quantile, value in zip(QUANTILES, q.values, strict=False):
            metric.add_sample(name, {**base, "quantile": str(quantile)}, value)
        metric.add_sample(f"{name}_count", base, q.count)
        metric.add_sample(f"{name}_sum", base, q.sum_s)
    return metric


def _counters(view: MetricsView) -> Iterator[Metric]:
    sent = CounterMetricFamily(
        "loadgen_sent", "Attempts sent (first and retries).", labels=["scenario"]
    )
    responses = CounterMetricFamily(
        "loadgen_responses", "Responses by status class.", labels=["scenario", "status_class"]
    )
    limited = CounterMetricFamily("loadgen_responses_429", "429 responses.", labels=["scenario"])
    errors = CounterMetricFamily(
        "loadgen_errors", "Attempts without a response, by kind.", labels=["scenario", "kind"]
    )
    dropped = CounterMetricFamily(
        "loadgen_dropped", "Arrivals dropped at max_in_flight.", labels=["scenario"]
    )
    for name, s in view.scenarios.items():
        sent.add_metric([name], s.sent)
        dropped.add_metric([name], s.dropped)
        limited.add_metric([name], s.by_class.get("429", 0))
        for status_class, n in s.by_class.items():
            responses.add_metric([name, status_class], n)
        for kind, n in s.errors_by_kind.items():
            errors.add_metric([name, kind], n)
    planned = CounterMetricFamily("loadgen_planned", "Arrivals planned so far.", value=view.planned)
    yield from (sent, responses, limited, errors, dropped, planned)


def _gauges(view: MetricsView) -> Iterator[Metric]:
    in_flight = GaugeMetricFamily(
        "loadgen_in_flight", "Attempts sent, not finished.", labels=["scenario"]
    )
    for name, s in view.scenarios.items():
        in_flight.add_metric([name], s.in_flight)
    yield in_flight
    yield GaugeMetricFamily(
        "loadgen_planned_rate", "Arrivals planned in the last full second.", value=view.planned_rps
    )
    yield GaugeMetricFamily(
        "loadgen_achieved_rate", "Attempts sent in the last full second.", value=view.achieved_rps
    )
    yield GaugeMetricFamily(
        "loadgen_generator_cpu_percent",
        "loadgen's own CPU over the last second.",
        value=view.cpu_percent,
    )


class RunCollector(Collector):
    """Reads the latest published view; never touches the run's metrics themselves."""

    def __init__(self) -> None:
        self.view = MetricsView()

    def collect(self) -> Iterator[Metric]:
        view = self.view  # one read: the loop may publish a new view meanwhile
        yield from _counters(view)
        yield from _gauges(view)
        yield _summary(
            "loadgen_latency_seconds",
            "Latency from the planned start, per scenario.",
            {name: s.latency for name, s in view.scenarios.items()},
        )
        yield _summary(
            "loadgen_service_seconds",
            "Service time from the send, per scenario.",
            {name: s.service for name, s in view.scenarios.items()},
        )
        yield _summary(
            "loadgen_run_latency_seconds", "Latency of the whole run.", {"": view.latency}
        )
        yield _summary(
            "loadgen_run_service_seconds", "Service time of the whole run.", {"": view.service}
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Exporter:
    """The HTTP server of the metrics, bound at once (a port in use is a usage error,
    before the first request)."""

    def __init__(self, host: str, port: int, *, allow_remote: bool = False) -> None:
        if not allow_remote and not is_loopback(host):
            raise UsageError(
                f"usage: --metrics-host {host}: not a loopback address; the metrics would be "
                "open to the network. Use 127.0.0.1 or ::1, or add --metrics-allow-remote"
            )
        self.collector = RunCollector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        try:
            server, self._thread = start_http_server(port, addr=host.strip("[]"), registry=registry)
        except (OSError, socket.gaierror) as exc:
            raise UsageError(
                f"usage: --metrics-port {port}: cannot listen on {host}:{port} "
                f"({exc.strerror or exc}); choose a free port"
            ) from exc
        self._server: WSGIServer = server
        self.port: int = server.server_address[1]

    def publish(self, view: MetricsView) -> None:
        self.collector.view = view

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
