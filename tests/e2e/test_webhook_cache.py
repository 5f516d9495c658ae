"""The webhook routes trust the integrations that last accepted a delivery for
SO1_AUTH_CACHE_SECONDS (services/verified_cache.py), as API keys are trusted: a rotation or a
disable through this process's API applies at once; one made elsewhere within the TTL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.domain.intake import Integration
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations
from so1.services.intake.integrations import IntegrationCache
from tests.contract import payload

BODY = payload("alertmanager/02-firing-group-containing-one-resolved-alert.json")
HOOK = "/v1/webhooks/alertmanager"


@pytest.fixture
def cached(api: TestClient, container: Container) -> TestClient:
    container.edge.integration_cache = IntegrationCache(ttl_seconds=60)
    return api


def deliver(client: TestClient, secret: str) -> int:
    answer = client.post(HOOK, content=BODY, headers={"Authorization": f"Bearer {secret}"})
    return answer.status_code


def add(container: Container) -> Integration:
    return integrations.add_integration(
        container.uow, container.clock, Actor("t"), AlertSource.ALERTMANAGER, "am"
    )


def test_a_rotation_through_the_api_stops_the_old_secret_at_once(
    cached: TestClient, container: Container
) -> None:
    made = add(container)
    assert deliver(cached, made.secret) == 202
    assert container.edge.integration_cache.get("alertmanager") is not None
    rotated = cached.post(f"/v1/integrations/{made.id}/rotate", json={"grace_seconds": 0})
    assert rotated.status_code == 201, rotated.text
    assert deliver(cached, made.secret) == 401
    assert deliver(cached, rotated.json()["secret"]) == 202


def test_a_disable_through_the_api_refuses_at_once(
    cached: TestClient, container: Container
) -> None:
    made = add(container)
    assert deliver(cached, made.secret) == 202
    assert cached.post(f"/v1/integrations/{made.id}/disable").status_code == 200
    assert deliver(cached, made.secret) == 401


def test_the_security_rotation_stops_cached_secrets_at_once(
    cached: TestClient, container: Container
) -> None:
    made = add(container)
    assert deliver(cached, made.secret) == 202
    rotation = cached.post("/v1/security/rotate")
    assert rotation.status_code == 200, rotation.text
    assert deliver(cached, made.secret) == 401


def test_a_change_made_elsewhere_applies_within_the_ttl_only_through_the_database(
    cached: TestClient, container: Container
) -> None:
    """Another process's rotation does not clear this cache: the old secret works until the
    entry is older than the TTL (the documented cost); a new secret is read at once."""
    made = add(container)
    assert deliver(cached, made.secret) == 202
    elsewhere = integrations.rotate_integration(
        container.uow, container.clock, Actor("t"), made.id, timedelta(0)
    )
    assert deliver(cached, made.secret) == 202  # still trusted from the cache
    assert deliver(cached, elsewhere.secret) == 202  # a miss goes to the database
    container.edge.integration_cache.clear()  # what the TTL's end does
    assert deliver(cached, made.secret) == 401


def test_without_the_cache_every_delivery_is_decided_on_the_database(
    api: TestClient, container: Container
) -> None:
    container.edge.integration_cache = IntegrationCache(ttl_seconds=0)
    made = add(container)
    assert deliver(api, made.secret) == 202
    integrations.disable_integration(container.uow, container.clock, Actor("t"), made.id)
    assert deliver(api, made.secret) == 401


def test_a_refusal_is_audited_even_with_a_cached_integration(
    cached: TestClient, container: Container
) -> None:
    made = add(container)
    assert deliver(cached, made.secret) == 202
    assert deliver(cached, "not-the-secret") == 401
    with container.uow(read_only=True) as uow:
        refused = uow.audit.search(10, 0, action="webhook.refused")
    assert len(refused) == 1


def enqueue(client: TestClient, routing_key: str) -> int:
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": {"summary": "disk full on db-1", "source": "db-1", "severity": "critical"},
    }
    return client.post("/v2/enqueue", json=event).status_code


def test_enqueue_routing_keys_are_cached_and_a_disable_or_rotation_applies_at_once(
    cached: TestClient, container: Container
) -> None:
    made = integrations.add_integration(
        container.uow, container.clock, Actor("t"), AlertSource.EVENTS, "events"
    )
    assert enqueue(cached, made.secret) == 202
    assert container.edge.integration_cache.get("events") is not None
    elsewhere = integrations.rotate_integration(
        container.uow, container.clock, Actor("t"), made.id, timedelta(0)
    )
    assert enqueue(cached, made.secret) == 202  # trusted from the cache within the TTL
    assert enqueue(cached, elsewhere.secret) == 202  # a miss reads the database
    assert enqueue(cached, "R0UT1NGKEYTHATISNOTKNOWN0000000") == 400
    assert cached.post(f"/v1/integrations/{made.id}/disable").status_code == 200
    assert enqueue(cached, elsewhere.secret) == 400
