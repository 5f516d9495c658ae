"""A real Prometheus Alertmanager delivering to SO1's webhook receiver.

Each test starts its own ``prometheus-alertmanager`` process (Debian's 0.25 build) on a free
loopback port, with clustering disabled and a route that sends every alert to
``<live_server>/v1/webhooks/alertmanager`` with ``Authorization: Bearer <token>``. Alerts go in
through Alertmanager's own API v2 and come out of its webhook notifier, so what SO1 parses is
exactly what Alertmanager sends (group status, per-alert status, fingerprints).

Every wait is bounded; the process is always terminated in the fixture's teardown.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from so1.adapters.db.intake_tables import deliveries
from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations

pytestmark = pytest.mark.slow

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
START_TIMEOUT = 15.0  # seconds for Alertmanager to answer /-/ready
DELIVERY_TIMEOUT = 20.0  # seconds for a notification to show up in SO1
POLL = 0.2

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = DELIVERY_TIMEOUT,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            extra = f"\n{explain()}" if explain else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{extra}", pytrace=False)
        time.sleep(POLL)


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Alertmanager:
    """A running Alertmanager: its API, and its log for failure messages."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        response = self.http.post(f"{self.url}/api/v2/alerts", json=alerts)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.url}/api/v2/alerts")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    def failed_webhook_notifications(self) -> float:
        """``alertmanager_notifications_failed_total{integration="webhook"}`` from /metrics."""
        metrics = self.http.get(f"{self.url}/metrics").text
        prefix = 'alertmanager_notifications_failed_total{integration="webhook"}'
        for line in metrics.splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
        return 0.0

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def alertmanager_config(webhook_url: str, token: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "so1",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "so1",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": token},
                        },
                    }
                ],
            }
        ],
    }


def _start(workdir: Path, attempt: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()  # released before Alertmanager binds it: retried on a lost race
    log = workdir / f"alertmanager-{attempt}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={workdir / 'alertmanager.yml'}",
                f"--storage.path={workdir / f'data-{attempt}'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}", log


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _ready(http: httpx.Client, process: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if http.get(f"{url}/-/ready").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def start_alertmanager(tmp_path: Path, live_server: str) -> Iterator[Callable[[str], Alertmanager]]:
    """Starts Alertmanager with a webhook receiver to ``live_server`` sending ``token``."""
    if not Path(ALERTMANAGER).exists():
        pytest.fail(f"{ALERTMANAGER} is not installed (Debian: prometheus-alertmanager)")
    started: list[subprocess.Popen[bytes]] = []
    http = httpx.Client(timeout=5, trust_env=False)

    def start(token: str) -> Alertmanager:
        workdir = tmp_path / "alertmanager"
        workdir.mkdir()
        config = alertmanager_config(f"{live_server}/v1/webhooks/alertmanager", token)
        (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        for attempt in range(3):
            process, url, log = _start(workdir, attempt)
            started.append(process)
            if _ready(http, process, url):
                return Alertmanager(url, process, log, http)
            _stop(process)
        pytest.fail(f"Alertmanager did not become ready:\n{log.read_text(errors='replace')}")

    try:
        yield start
    finally:
        for process in started:
            _stop(process)
        http.close()


@pytest.fixture
def so1(live_server: str, admin_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_server,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=5,
        trust_env=False,
    ) as client:
        yield client


def add_alertmanager(container: Container) -> str:
    created = integrations.add_integration(
        container.uow, container.clock, Actor("t"), AlertSource.ALERTMANAGER, "prometheus"
    )
    return created.secret


def am_alert(
    service: str, severity: str, summary: str, starts: datetime, ends: datetime
) -> dict[str, Any]:
    return {
        "labels": {"alertname": "HighErrorRate", "service": service, "severity": severity},
        "annotations": {"summary": summary},
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(ends),
        "generatorURL": f"http://prometheus.example/graph?g0.expr=errors%7Bservice%3D%22{service}%22%7D",
    }


def so1_alerts(so1: httpx.Client) -> dict[str, dict[str, Any]]:
    """SO1's Alertmanager alerts by dedup_key."""
    response = so1.get("/v1/alerts", params={"source": "alertmanager", "limit": 500})
    assert response.status_code == 200, response.text
    return {a["dedup_key"]: a for a in response.json()["items"]}


def with_statuses(
    so1: httpx.Client, wanted: dict[str, str]
) -> Callable[[], dict[str, dict[str, Any]] | None]:
    def probe() -> dict[str, dict[str, Any]] | None:
        alerts = so1_alerts(so1)
        have = {key: alerts[key]["status"] for key in wanted if key in alerts}
        return alerts if have == wanted else None

    return probe


def fingerprints(am: Alertmanager, count: int) -> dict[str, str]:
    """service label → Alertmanager's fingerprint, once it holds ``count`` alerts."""

    def probe() -> dict[str, str] | None:
        found = {a["labels"]["service"]: a["fingerprint"] for a in am.alerts()}
        return found if len(found) == count else None

    return wait_for(f"Alertmanager to hold {count} alerts", probe, timeout=5)


def test_alerts_fire_and_resolve_through_a_real_alertmanager(
    container: Container,
    start_alertmanager: Callable[[str], Alertmanager],
    so1: httpx.Client,
) -> None:
    am = start_alertmanager(add_alertmanager(container))
    now = datetime.now(UTC)
    starts, ends = now - timedelta(minutes=1), now + timedelta(hours=1)
    checkout = am_alert("checkout", "critical", "checkout 5xx at 12%", starts, ends)
    search = am_alert("search", "warning", "search 5xx at 3%", starts, ends)
    am.post_alerts([checkout, search])
    fps = fingerprints(am, 2)

    firing = {fps["checkout"]: "firing", fps["search"]: "firing"}
    alerts = wait_for("both alerts firing in SO1", with_statuses(so1, firing), explain=am.log_text)
    assert len(alerts) == 2
    first = alerts[fps["checkout"]]
    assert first["source"] == "alertmanager"
    assert first["summary"] == "checkout 5xx at 12%"
    assert first["service"] == "checkout"
    assert first["metric"] == "HighErrorRate"
    assert first["severity_hint"] == "critical"
    assert first["labels"] == {
        "alertname": "HighErrorRate",
        "service": "checkout",
        "severity": "critical",
    }
    assert first["details"]["receiver"] == "so1"
    assert first["details"]["groupKey"] == '{}:{alertname="HighErrorRate"}'
    assert alerts[fps["search"]]["severity_hint"] == "warning"

    # Resolve one: Alertmanager sends the group as "firing" with one alert "resolved".
    am.post_alerts([{**checkout, "endsAt": rfc3339(datetime.now(UTC))}])
    partial = {fps["checkout"]: "resolved", fps["search"]: "firing"}
    wait_for(
        "checkout resolved, search still firing",
        with_statuses(so1, partial),
        explain=am.log_text,
    )

    am.post_alerts([{**search, "endsAt": rfc3339(datetime.now(UTC))}])
    resolved = {fps["checkout"]: "resolved", fps["search"]: "resolved"}
    alerts = wait_for(
        "both alerts resolved in SO1", with_statuses(so1, resolved), explain=am.log_text
    )
    assert len(alerts) == 2, "resending the group must not open new alerts"
    assert all(a["resolved_at"] is not None for a in alerts.values())

    # Firing again after the resolve opens a new SO1 alert for the same fingerprint.
    again = am_alert("checkout", "critical", "checkout 5xx again", datetime.now(UTC), ends)
    am.post_alerts([again])

    def reopened() -> list[dict[str, Any]] | None:
        listed = so1.get(
            "/v1/alerts", params={"source": "alertmanager", "status": "firing"}
        ).json()["items"]
        return listed or None

    (second,) = wait_for("checkout firing again in SO1", reopened, explain=am.log_text)
    assert second["dedup_key"] == fps["checkout"]
    assert second["id"] != first["id"]
    assert second["summary"] == "checkout 5xx again"
    assert second["flap_count"] == 1
    total = so1.get("/v1/alerts", params={"source": "alertmanager"}).json()["total"]
    assert total == 3
    refusals = so1.get("/v1/audit", params={"action": "webhook.refused"}).json()
    assert refusals == []


def test_wrong_bearer_token_is_refused_and_audited(
    container: Container,
    start_alertmanager: Callable[[str], Alertmanager],
    so1: httpx.Client,
) -> None:
    real_token = add_alertmanager(container)
    am = start_alertmanager("not-" + real_token)
    now = datetime.now(UTC)
    alert = am_alert("checkout", "critical", "checkout down", now, now + timedelta(hours=1))
    am.post_alerts([alert])

    def refusals() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = so1.get(
            "/v1/audit", params={"action": "webhook.refused"}
        ).json()
        return found or None

    refused = wait_for("SO1 to audit a refused delivery", refusals, explain=am.log_text)
    assert all(r["actor"] == "webhook:alertmanager" for r in refused)
    assert all(r["outcome"] == "denied" for r in refused)
    assert all(r["source_ip"] == "127.0.0.1" for r in refused)
    assert all("alertmanager" in r["detail"]["reason"] for r in refused)
    assert all(real_token not in str(r) for r in refused)
    # Alertmanager saw the 401 as a failed notification (it retries on the next flush).
    wait_for(
        "Alertmanager to count the failed notification",
        lambda: am.failed_webhook_notifications() or None,
        timeout=5,
    )
    assert so1_alerts(so1) == {}
    assert so1.get("/v1/alerts").json()["total"] == 0
    with container.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    assert stored == 0, "a refused delivery must not be kept"
