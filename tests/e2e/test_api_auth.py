"""Authentication, scopes, rotation and the audit of failures, through HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.errors import Unauthorized
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor
from tests.conftest import make_key

INCIDENT = {"title": "x", "severity": "SEV3"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_needs_no_key(anon: TestClient) -> None:
    response = anon.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["checks"] == {"database": "ok", "ingest_writer": "ok"}


def test_health_reports_unhealthy_database(anon: TestClient, container: Container) -> None:
    container.edge.health_checks["database"] = lambda: "error: OperationalError"
    response = anon.get("/v1/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


def test_every_kind_of_bad_key_is_the_same_401(
    anon: TestClient, container: Container, clock: FixedClock
) -> None:
    good = make_key(container, Scope.READ)
    revoked = make_key(container, Scope.READ)
    access.revoke_key(container.uow, clock, Actor("t"), revoked.split("_")[1])
    expiring = access.create_key(
        container.uow,
        clock,
        Actor("t"),
        "exp",
        frozenset({Scope.READ}),
        expires_at=clock.now() + timedelta(minutes=1),
    ).token
    clock.advance(timedelta(minutes=2))
    wrong_secret = good[:-3] + "abc"
    answers = {
        "missing": anon.get("/v1/incidents"),
        "garbage": anon.get("/v1/incidents", headers=bearer("nonsense")),
        "wrong secret": anon.get("/v1/incidents", headers=bearer(wrong_secret)),
        "revoked": anon.get("/v1/incidents", headers=bearer(revoked)),
        "expired": anon.get("/v1/incidents", headers=bearer(expiring)),
    }
    for why, response in answers.items():
        assert response.status_code == 401, why
        assert response.json()["detail"] == "missing or invalid API key", why
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert anon.get("/v1/incidents", headers=bearer(good)).status_code == 200


def test_missing_scope_is_403_and_audited(anon: TestClient, container: Container) -> None:
    reader = make_key(container, Scope.READ, name="reader")
    response = anon.post("/v1/incidents", json=INCIDENT, headers=bearer(reader))
    assert response.status_code == 403
    assert "write" in response.json()["detail"]
    assert (
        anon.post(
            "/v1/deployments",
            json={"service": "a", "version": "1"},
            headers=bearer(make_key(container, Scope.WRITE)),
        ).status_code
        == 403
    )
    admin = make_key(container, Scope.ADMIN)
    denied = anon.get("/v1/audit?action=auth.forbidden", headers=bearer(admin)).json()
    assert len(denied) == 2
    assert denied[-1]["outcome"] == "denied" and denied[-1]["actor"].startswith("reader")
    assert denied[-1]["detail"]["needed_scope"] == "write"
    assert anon.get("/v1/audit", headers=bearer(reader)).status_code == 403


def test_auth_failures_audited_without_secrets(anon: TestClient, container: Container) -> None:
    good = make_key(container, Scope.ADMIN)
    secret = good.split("_", 2)[2]
    anon.get("/v1/incidents", headers=bearer(good[:-2] + "zz"))
    failures = anon.get("/v1/audit?action=auth.failed", headers=bearer(good)).json()
    assert len(failures) == 1
    assert failures[0]["source_ip"] == "testclient" and failures[0]["outcome"] == "denied"
    everything = anon.get("/v1/audit?limit=500", headers=bearer(good)).text
    assert secret not in everything and secret[:-2] not in everything


def test_rotation_grace_period(anon: TestClient, container: Container, clock: FixedClock) -> None:
    old = make_key(container, Scope.READ)
    new = access.rotate_key(container.uow, clock, Actor("t"), old.split("_")[1], timedelta(hours=1))
    assert new.key.rotated_from == old.split("_")[1]
    clock.advance(timedelta(minutes=59))
    assert anon.get("/v1/incidents", headers=bearer(old)).status_code == 200
    clock.advance(timedelta(minutes=2))
    assert anon.get("/v1/incidents", headers=bearer(old)).status_code == 401
    assert anon.get("/v1/incidents", headers=bearer(new.token)).status_code == 200


def test_last_used_is_recorded(anon: TestClient, container: Container, clock: FixedClock) -> None:
    token = make_key(container, Scope.READ)
    anon.get("/v1/incidents", headers=bearer(token))
    (key,) = [k for k in access.list_keys(container.uow) if token.startswith(f"so1_{k.id}_")]
    assert key.last_used_at == clock.now()


def test_first_start_admin_key_only_once(container: Container, clock: FixedClock) -> None:
    first = access.ensure_admin_key(container.uow, clock)
    assert first is not None and first.key.scopes == {Scope.ADMIN}
    assert access.ensure_admin_key(container.uow, clock) is None


def test_key_cache_trusts_a_verified_key_for_its_ttl_only(
    container: Container, clock: FixedClock
) -> None:
    cache = access.KeyCache(ttl_seconds=60)
    token = make_key(container, Scope.READ)
    key_id = token.split("_")[1]
    assert access.authenticate(container.uow, clock, token, None, cache).id == key_id
    access.revoke_key(container.uow, clock, Actor("t"), key_id)
    # Within the TTL the cached key still works: the documented cost of SO1_AUTH_CACHE_SECONDS.
    assert access.authenticate(container.uow, clock, token, None, cache).id == key_id
    wrong = token[:-3] + "xyz"
    with pytest.raises(Unauthorized):
        access.authenticate(container.uow, clock, wrong, None, cache)
    # A failed attempt drops the entry, and without the cache the revocation holds.
    with pytest.raises(Unauthorized):
        access.authenticate(container.uow, clock, token, None, cache)
    with pytest.raises(Unauthorized):
        access.authenticate(container.uow, clock, token, None, access.KeyCache(0))


def test_cached_keys_over_http(anon: TestClient, container: Container) -> None:
    container.edge.key_cache = access.KeyCache(ttl_seconds=60)
    token = make_key(container, Scope.READ)
    for _ in range(3):
        assert anon.get("/v1/incidents", headers=bearer(token)).status_code == 200
    assert access.verified_from_cache(container.edge.key_cache, container.clock, token) is not None
    assert anon.get("/v1/incidents", headers=bearer(token[:-2] + "zz")).status_code == 401
    assert anon.post("/v1/incidents", json=INCIDENT, headers=bearer(token)).status_code == 403
