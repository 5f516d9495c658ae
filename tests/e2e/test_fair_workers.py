"""Fair workers: a vendor that hangs holds every delivery pass, yet alerts are still triaged
promptly, and no more delivery passes run at once than SO1_WORKER_CONCURRENCY allows.

On SQLite the API server runs the jobs in its own threads; on PostgreSQL the server only
defers them and a `so1 worker`'s container runs them on procrastinate, each job on its own
queue and worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.entrypoints.api.app import create_app
from tests.conftest import make_key
from tests.e2e.fault_support import Alerts, wait_until
from tests.e2e.intake_support import SEED_ALERT

DELIVERY_LIMIT = 2
SERVICES = [f"svc-{n}" for n in range(6)]
ALERTS = 20
TRIAGE_WITHIN = 20.0  # seconds for every alert to be triaged while the vendor hangs


class HangingVendor:
    """Every delivery blocks until ``release()``: a vendor whose API stopped answering.
    Records how many deliveries were in the vendor at once."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._guard = threading.Lock()
        self.inside = 0
        self.peak = 0
        self.calls = 0

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        with self._guard:
            self.inside += 1
            self.calls += 1
            self.peak = max(self.peak, self.inside)
        try:
            self._released.wait(60)
        finally:
            with self._guard:
                self.inside -= 1
        return {}

    def release(self) -> None:
        self._released.set()


def _settings(db_url: str, **values: Any) -> Settings:
    concurrency = f"triage=1,delivery={DELIVERY_LIMIT}"
    return Settings(
        database_url=db_url,
        db_pool_size=10,
        auth_cache_seconds=0,
        worker_concurrency=concurrency,
        **values,
    )


def _hang_every_vendor(container: Container, vendor: HangingVendor) -> None:
    for destination in Destination:
        container.adapters.messengers[destination] = vendor


@contextmanager
def _running(db_url: str, vendor: HangingVendor) -> Iterator[TestClient]:
    """The API (and on PostgreSQL a worker) with every vendor hanging; yields a client."""
    on_postgres = db_url.startswith("postgresql")
    api = build_container(_settings(db_url, background="worker" if on_postgres else "server"))
    worker: Container | None = None
    if on_postgres:
        worker = build_container(_settings(db_url), role="worker")
        _hang_every_vendor(worker, vendor)
        worker.start_background(server=False)
        assert worker.jobs.engine == "procrastinate"
    else:
        _hang_every_vendor(api, vendor)
    try:
        with TestClient(create_app(api), raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {make_key(api, Scope.ADMIN)}"
            yield client
    finally:
        vendor.release()
        if worker is not None:
            worker.close()
        api.close()


def _post(client: TestClient, service: str, key: str) -> None:
    body = {**SEED_ALERT, "service": service, "dedup_key": key}
    response = client.post("/v1/alerts", json=body)
    assert response.status_code == 202, response.text


def test_a_hanging_vendor_does_not_hold_up_triage(db_url: str) -> None:
    vendor = HangingVendor()
    alerts = Alerts(db_url)
    try:
        with _running(db_url, vendor) as client:
            # Each alert declares an incident whose messages wake delivery, which hangs.
            for n, service in enumerate(SERVICES):
                _post(client, service, f"first-{n}")
                wait_until(lambda: alerts.pending_triage() == 0, "the first alerts' triage", 20)
            wait_until(lambda: vendor.inside >= DELIVERY_LIMIT, "deliveries stuck in the vendor")
            started = time.monotonic()
            for n in range(ALERTS):
                _post(client, SERVICES[n % len(SERVICES)], f"later-{n}")
            wait_until(
                lambda: alerts.pending_triage() == 0, "triage while the vendor hangs", TRIAGE_WITHIN
            )
            drained = time.monotonic() - started
            stuck, peak = vendor.inside, vendor.peak
    finally:
        alerts.close()
    print(f"\n{ALERTS} alerts triaged in {drained:.2f} s with {stuck} deliveries stuck")
    assert stuck == DELIVERY_LIMIT  # still hanging: triage did not wait for the vendor
    assert peak == DELIVERY_LIMIT  # never more delivery passes than the setting allows


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("triage", "'triage' is not KIND=N"),
        ("triage=2,mail=1", "unknown job kind 'mail'"),
        ("delivery=0", "delivery=0: each limit is 1 to 32"),
        ("clocks=2", "clocks=1 only"),
    ],
)
def test_a_concurrency_that_cannot_work_stops_the_worker_naming_the_setting(
    cli: Any, value: str, named: str
) -> None:
    result = cli("worker", SO1_WORKER_CONCURRENCY=value)
    stderr = result.assert_clean_failure()
    assert "SO1_WORKER_CONCURRENCY" in stderr
    assert named in stderr
