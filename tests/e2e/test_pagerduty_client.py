"""PagerDuty's official Python client (``pagerduty`` 7.x, ``EventsApiV2Client``), unmodified,
sending Events API v2 alert and change events to SO1 instead of events.pagerduty.com.

The client only accepts an ``https://`` base URL (its ``url`` setter raises ``UrlError``
otherwise), so these tests serve the real app with uvicorn over TLS on a free 127.0.0.1 port,
with a throwaway self-signed certificate made by ``openssl``. The client gets exactly two
settings: ``base_url`` (its constructor argument for the API base) and ``verify`` (an
``httpx2.Client`` argument) so it trusts that certificate. Its retry settings are public
attributes; they are tightened so that an unexpected 429/5xx fails fast instead of sleeping.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pagerduty
import pytest

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations
from tests.e2e.conftest import serve

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1: (cert.pem, key.pem)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_live_server(container: Container, certificate: tuple[Path, Path]) -> Iterator[str]:
    """``live_server`` over HTTPS: the official client refuses plain-HTTP base URLs."""
    cert, key = certificate
    with serve(container, ssl_certfile=str(cert), ssl_keyfile=str(key)) as url:
        yield url


@pytest.fixture
def trust(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


ClientFactory = Callable[[str], pagerduty.EventsApiV2Client]


@pytest.fixture
def pd_client(tls_live_server: str, trust: ssl.SSLContext) -> Iterator[ClientFactory]:
    """``routing_key`` → the official client pointed at SO1; closed after the test."""
    made: list[pagerduty.EventsApiV2Client] = []

    def make(routing_key: str) -> pagerduty.EventsApiV2Client:
        client = pagerduty.EventsApiV2Client(routing_key, base_url=tls_live_server, verify=trust)
        # Bounded: it retries 5xx up to 6 times and 429 forever, sleeping 3 s, 6 s, ...
        client.timeout = 10
        client.sleep_timer = 0.01
        client.max_network_attempts = 1
        client.retry[429] = 1
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            client.close()


@pytest.fixture
def so1(tls_live_server: str, trust: ssl.SSLContext, admin_token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=tls_live_server,
        headers={"Authorization": f"Bearer {admin_token}"},
        verify=trust,
        timeout=5,
        trust_env=False,
    ) as client:
        yield client


def add_events(container: Container, name: str = "events") -> str:
    created = integrations.add_integration(
        container.uow, container.clock, Actor("t"), AlertSource.EVENTS, name
    )
    return created.secret


def alerts_by_key(so1: httpx.Client) -> dict[str, dict[str, Any]]:
    response = so1.get("/v1/alerts", params={"source": "events", "limit": 500})
    assert response.status_code == 200, response.text
    return {a["dedup_key"]: a for a in response.json()["items"]}


def status_of(so1: httpx.Client, dedup_key: str) -> str:
    """Status of the (single) alert with ``dedup_key``."""
    status: str = alerts_by_key(so1)[dedup_key]["status"]
    return status


def test_trigger_acknowledge_resolve_with_a_dedup_key(
    container: Container, pd_client: ClientFactory, so1: httpx.Client
) -> None:
    client = pd_client(add_events(container))
    key = client.trigger(
        "DISK at 99% on mysql",
        "prod-datapipe03",
        dedup_key="srv01/mysql",
        severity="error",
        payload={"component": "mysql", "group": "prod-datapipe", "class": "disk"},
        custom_details={"free_space": "1%"},
        links=[{"href": "https://runbooks.example/disk", "text": "Runbook"}],
    )
    assert key == "srv01/mysql"
    alert = alerts_by_key(so1)["srv01/mysql"]
    assert alert["status"] == "firing"
    assert alert["source"] == "events"
    assert alert["summary"] == "DISK at 99% on mysql"
    assert alert["service"] == "mysql"  # the component names what is broken
    assert alert["severity_hint"] == "error"
    assert alert["labels"] == {
        "source": "prod-datapipe03",
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
    }
    assert alert["details"]["custom_details"] == {"free_space": "1%"}
    assert alert["dedup_count"] == 1

    assert client.trigger("DISK at 99% on mysql", "prod-datapipe03", dedup_key=key) == key
    assert len(alerts_by_key(so1)) == 1
    assert alerts_by_key(so1)[key]["dedup_count"] == 2

    assert client.acknowledge(key) == key
    assert status_of(so1, key) == "acknowledged"
    assert client.resolve(key) == key
    assert status_of(so1, key) == "resolved"
    assert alerts_by_key(so1)[key]["resolved_at"] is not None

    # PagerDuty: after the resolve, an acknowledge with that key is accepted and dropped,
    # and a trigger with it opens a new alert.
    assert client.acknowledge(key) == key
    assert status_of(so1, key) == "resolved"
    assert client.trigger("DISK at 99% again", "prod-datapipe03", dedup_key=key) == key
    listed = so1.get("/v1/alerts", params={"source": "events"}).json()["items"]
    assert sorted((a["dedup_key"], a["status"]) for a in listed) == [
        (key, "firing"),
        (key, "resolved"),
    ]
    assert len({a["id"] for a in listed}) == 2


def test_trigger_without_dedup_key_gets_a_fresh_one(
    container: Container, pd_client: ClientFactory, so1: httpx.Client
) -> None:
    client = pd_client(add_events(container))
    first = client.trigger("checkout p99 > 2s", "api-prod", severity="warning")
    second = client.trigger("checkout p99 > 2s", "api-prod", severity="warning")
    assert first and second and first != second, "each key-less trigger opens a new alert"
    alerts = alerts_by_key(so1)
    assert set(alerts) == {first, second}
    assert {a["status"] for a in alerts.values()} == {"firing"}
    assert alerts[first]["severity_hint"] == "warning"

    assert client.resolve(first) == first
    assert status_of(so1, first) == "resolved"
    assert status_of(so1, second) == "firing"


def test_only_the_opening_routing_key_can_close(
    container: Container, pd_client: ClientFactory, so1: httpx.Client
) -> None:
    owner = pd_client(add_events(container, "owner"))
    other = pd_client(add_events(container, "other"))
    key = owner.trigger("queue depth 10k", "worker-7", dedup_key="queue/depth", severity="info")
    assert other.resolve(key) == key  # accepted, as PagerDuty does, but not applied
    assert status_of(so1, key) == "firing"
    assert owner.resolve(key) == key
    assert status_of(so1, key) == "resolved"


def test_invalid_events_raise_the_clients_http_error(
    container: Container, pd_client: ClientFactory, so1: httpx.Client
) -> None:
    client = pd_client(add_events(container))
    started = time.monotonic()
    with pytest.raises(pagerduty.HttpError) as bad_severity:
        client.trigger("s", "host", dedup_key="bad", severity="fatal")
    assert time.monotonic() - started < 5, "a 400 must not be retried"
    assert not isinstance(bad_severity.value, pagerduty.ServerHttpError)
    response = bad_severity.value.response
    assert response is not None
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert any("severity" in error for error in body["errors"])

    with pytest.raises(pagerduty.HttpError) as too_long:
        client.trigger("s", "host", dedup_key="k" * 256)
    assert too_long.value.response is not None
    assert too_long.value.response.status_code == 400

    stranger = pd_client("0" * 32)
    with pytest.raises(pagerduty.HttpError) as unknown_key:
        stranger.trigger("s", "host", dedup_key="x")
    assert unknown_key.value.response is not None
    assert unknown_key.value.response.status_code == 400
    assert unknown_key.value.response.json()["errors"] == ["Invalid routing key"]

    assert alerts_by_key(so1) == {}
    assert len(so1.get("/v1/audit", params={"action": "enqueue.invalid"}).json()) == 2
    refused = so1.get("/v1/audit", params={"action": "enqueue.refused"}).json()
    assert len(refused) == 1
    assert "0" * 32 not in str(refused)


def test_change_events_through_the_client(
    container: Container, pd_client: ClientFactory, so1: httpx.Client
) -> None:
    client = pd_client(add_events(container))
    # ``submit`` without ``timestamp`` fails inside pagerduty 7.2 itself (its
    # ``event_timestamp`` calls ``datetime.timezone``), so the caller passes one.
    client.submit(
        "Deployed checkout v1.4.2",
        source="ci",
        custom_details={"service": "checkout", "version": "v1.4.2"},
        links=[{"href": "https://ci.example/builds/812", "text": "Build 812"}],
        timestamp=datetime.now(UTC).isoformat(),
    )
    client.send_change_event(
        payload={"summary": "Feature flag flipped", "source": "flags"},
    )
    recent = so1.get("/v1/deployments/recent", params={"hours": 1}).json()["deployments"]
    by_service = {d["service"]: d for d in recent}
    assert by_service["checkout"]["version"] == "v1.4.2"
    assert by_service["checkout"]["platform"] == "pagerduty-change"
    assert by_service["flags"]["platform"] == "pagerduty-change"
    assert alerts_by_key(so1) == {}, "change events never open alerts"

    with pytest.raises(pagerduty.HttpError) as no_summary:
        client.send_change_event(payload={"source": "ci"})
    assert no_summary.value.response is not None
    assert no_summary.value.response.status_code == 400
