"""The Prometheus metrics adapter against a real Prometheus server (the distribution's
``prometheus``) that scrapes a small exporter this test controls."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from so1.adapters.metrics.prometheus import PrometheusMetrics
from so1.domain.catalog import CatalogService, Tier
from so1.errors import Unavailable, ValidationFailed
from tests.e2e.test_processes import free_port

pytestmark = pytest.mark.slow

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SERVICE = CatalogService("control-plane-api", Tier.CRITICAL)
WAIT = 40.0


@dataclass
class Exporter:
    requests: Counter
    latency: Histogram
    in_use: Gauge
    size: Gauge

    def traffic(self, ok: int, errors: int, seconds: float) -> None:
        self.requests.labels(SERVICE.name, "200").inc(ok)
        self.requests.labels(SERVICE.name, "500").inc(errors)
        for _ in range(10):
            self.latency.labels(SERVICE.name).observe(seconds)


@pytest.fixture(scope="module")
def exporter() -> Iterator[tuple[Exporter, int]]:
    registry = CollectorRegistry()
    found = Exporter(
        Counter("http_requests", "requests", ["service", "status"], registry=registry),
        Histogram(
            "http_request_duration_seconds",
            "latency",
            ["service"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        ),
        Gauge("db_pool_in_use", "connections in use", ["service"], registry=registry),
        Gauge("db_pool_size", "pool size", ["service"], registry=registry),
    )
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    found.in_use.labels(SERVICE.name).set(15)
    found.size.labels(SERVICE.name).set(20)
    yield found, port
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def prometheus(
    exporter: tuple[Exporter, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if not Path(PROMETHEUS).exists():
        pytest.fail(f"{PROMETHEUS} is not installed (Debian: prometheus)")
    workdir = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{exporter[1]}"]}]}
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, workdir / "prometheus.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"Prometheus did not become ready:\n{log.read_text(errors='replace')}")


def _window() -> tuple[datetime, datetime]:
    end = datetime.now(UTC)
    return end - timedelta(seconds=30), end


def test_key_metrics_read_from_a_real_prometheus(
    prometheus: str, exporter: tuple[Exporter, int]
) -> None:
    app, _ = exporter
    metrics = PrometheusMetrics(prometheus, httpx.Client(timeout=10), window="10s")
    deadline = time.monotonic() + WAIT
    error_rate = pool = p99 = None
    while time.monotonic() < deadline:
        app.traffic(ok=90, errors=10, seconds=0.3)  # 10% errors, every latency in (0.25, 0.5]
        time.sleep(0.5)
        start, end = _window()
        error_rate = metrics.series(SERVICE, "error_rate", start, end, 1).last()
        pool = metrics.series(SERVICE, "db_pool_utilization", start, end, 1).last()
        p99 = metrics.series(SERVICE, "latency_p99_ms", start, end, 1).last()
        if error_rate is not None and p99 is not None and pool is not None:
            break
    assert error_rate == pytest.approx(10.0, abs=0.5)
    assert pool == pytest.approx(75.0)
    assert p99 is not None and 250 < p99 <= 500


def test_catalog_override_and_refusals(prometheus: str) -> None:
    metrics = PrometheusMetrics(prometheus, httpx.Client(timeout=10))
    start, end = _window()
    pool_size = {"cpu": 'max(db_pool_size{service="$service"})'}
    custom = CatalogService(SERVICE.name, Tier.CRITICAL, metric_queries=pool_size)
    assert metrics.series(custom, "cpu", start, end, 1).last() == 20.0

    broken = CatalogService("x", Tier.LOW, metric_queries={"cpu": "sum(rate(oops[1m]"})
    with pytest.raises(Unavailable, match="bad_data"):
        metrics.series(broken, "cpu", start, end, 1)
    with pytest.raises(ValidationFailed, match="no query"):
        metrics.series(SERVICE, "happiness", start, end, 1)
    unknown_service = CatalogService("nobody", Tier.LOW)
    assert metrics.series(unknown_service, "error_rate", start, end, 1).points == []


def test_prometheus_down_is_unavailable() -> None:
    metrics = PrometheusMetrics(f"http://127.0.0.1:{free_port()}", httpx.Client(timeout=10))
    start, end = _window()
    with pytest.raises(Unavailable, match="did not answer"):
        metrics.series(SERVICE, "error_rate", start, end, 1)
