"""`loadgen run --metrics-port`: a real Prometheus server scrapes a run against the embedded
mock, and what it stored equals the artifact's totals; plus a direct scrape of the format."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.run_support import profile, read_checked, scenario, start, wait_until, write_profile

PROMETHEUS = shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _profile(tmp_path: Path, name: str, seconds: int) -> Path:
    return write_profile(
        tmp_path,
        profile(
            name,
            start_rate=2,
            stages=(("2s", 20), (f"{seconds}s", 20)),
            scenarios=[scenario("track"), scenario("ident", kind="identify")],
        ),
    )


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Prometheus server on a free loopback port scraping a free port every second:
    yields (its URL, the port loadgen must serve on); always stopped."""
    if PROMETHEUS is None:
        if os.environ.get("CI") == "true":
            pytest.fail("prometheus is missing under CI=true: scripts/test installs it")
        pytest.skip("prometheus is not installed (scripts/test installs it with apt-get)")
    scrape_port, web_port = _free_port(), _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
        "scrape_configs:\n  - job_name: loadgen\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{scrape_port}']\n"
    )
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{web_port}"
    try:
        wait_until(lambda: _ready(url), 30, "prometheus to be ready")
        yield url, scrape_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, expression: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels (without __name__, job, instance): value} of an instant query."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert answer["status"] == "success", answer
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for item in answer["data"]["result"]:
        labels = {
            k: v for k, v in item["metric"].items() if k not in ("__name__", "job", "instance")
        }
        out[tuple(sorted(labels.items()))] = float(item["value"][1])
    return out


def _last(url: str, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
    return _query(url, f"last_over_time({metric}[1m])")


def test_prometheus_scrapes_counters_equal_to_the_artifact(
    tmp_path: Path, prometheus: tuple[str, int]
) -> None:
    url, port = prometheus
    out = tmp_path / "r.json"
    prof = _profile(tmp_path, "scraped", 5)
    run = start("run", prof, "-q", "--out", out, "--metrics-port", str(port))
    try:
        result = run.finish(timeout=60)
    finally:
        run.kill()
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    sent = _last(url, "loadgen_sent_total")
    assert sent == {(("scenario", s),): float(b["count"]) for s, b in doc["scenarios"].items()}
    responses = _last(url, "loadgen_responses_total")
    for name, block in doc["scenarios"].items():
        for status_class, n in block["status"].items():
            key = (("scenario", name), ("status_class", status_class))
            assert responses[key] == n, key
        latency_count = _last(url, f'loadgen_latency_seconds_count{{scenario="{name}"}}')
        assert list(latency_count.values()) == [block["completed"] + block["errors"]]
    errors = _last(url, "loadgen_errors_total")
    assert sum(errors.values()) == doc["totals"]["errors"]
    assert _last(url, "loadgen_planned_total") == {(): float(doc["totals"]["planned"])}
    assert sum(_last(url, "loadgen_dropped_total").values()) == doc["totals"]["dropped"]
    assert sum(_last(url, "loadgen_responses_429_total").values()) == doc["totals"]["status"]["429"]
    # the rate went up to 20 req/s: some scrape saw it
    assert max(_query(url, "max_over_time(loadgen_achieved_rate[1m])").values()) >= 10
    p99 = _last(url, 'loadgen_run_latency_seconds{quantile="0.99"}')
    slowest_s = max(b["latency_ms"]["max"] for b in doc["scenarios"].values()) / 1000
    assert 0 < next(iter(p99.values())) <= slowest_s


def test_a_direct_scrape_mid_run_has_every_family_with_scenario_labels(tmp_path: Path) -> None:
    port = _free_port()
    out = tmp_path / "r.json"
    run = start("run", _profile(tmp_path, "direct", 3), "-q", "--out", out,
                "--metrics-port", str(port))  # fmt: skip
    text = ""
    try:

        def scraped() -> bool:
            nonlocal text
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.HTTPError:
                return False
            return 'loadgen_sent_total{scenario="track"}' in text

        wait_until(scraped, 30, "a scrape with a request sent")
        # once the artifact is written the endpoint still serves, now the final values
        wait_until(out.exists, 30, "the artifact")
        final = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        result = run.finish(timeout=60)
    finally:
        run.kill()
    assert result.returncode == 0, result.explain()
    doc = read_checked(out)
    sent = {
        s.labels["scenario"]: s.value
        for f in text_string_to_metric_families(final)
        if f.name == "loadgen_sent"
        for s in f.samples
        if s.name == "loadgen_sent_total"
    }
    assert sent == {name: block["count"] for name, block in doc["scenarios"].items()}
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "loadgen_sent",
        "loadgen_responses",
        "loadgen_errors",
        "loadgen_dropped",
        "loadgen_planned",
        "loadgen_in_flight",
        "loadgen_planned_rate",
        "loadgen_achieved_rate",
        "loadgen_generator_cpu_percent",
        "loadgen_latency_seconds",
        "loadgen_service_seconds",
    ):
        assert name in families, name
    quantiles: set[Any] = {
        s.labels.get("quantile") for s in families["loadgen_service_seconds"].samples
    }
    assert {"0.5", "0.9", "0.95", "0.99"} <= quantiles
    assert {s.labels["scenario"] for s in families["loadgen_sent"].samples} == {"track", "ident"}


def test_prometheus_client_is_imported_only_with_the_flag() -> None:
    code = (
        "import sys, loadgen.cli.running, loadgen.run.runner, loadgen.run.streaming; "
        "print('prometheus_client' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.strip() == "False", shown.stderr
