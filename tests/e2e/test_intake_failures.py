"""The intake writer and Idempotency-Key claims under failure: a writer thread that dies is
started again and GET /v1/health says so; a claim never blocks a retry for good (a failed
request's claim is released, once the database answers again if it did not at first; an
unanswered claim ends after its lease; a stored answer after 24 hours)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.adapters.db import idempotency
from so1.bootstrap import Container
from so1.errors import Unavailable
from so1.services.intake import deliveries

# The writer thread is killed on purpose; pytest would report its end as an error.
killing_the_writer = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)
ALERT = {"event_action": "trigger", "source": "t", "summary": "disk full", "dedup_key": "disk"}


def die_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next batch the writer takes kills its thread (a BaseException, not an Exception:
    what no handler in the writer may swallow)."""
    original = deliveries.ingest_batch

    def dying(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(deliveries, "ingest_batch", original)
        raise SystemExit("the writer thread was killed")

    monkeypatch.setattr(deliveries, "ingest_batch", dying)


@killing_the_writer
def test_a_writer_that_dies_is_restarted_and_health_says_so(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    die_once(monkeypatch)
    lost = api.post("/v1/alerts", json=ALERT)
    assert lost.status_code == 503, lost.text  # answered, never left hanging: the sender retries
    health = api.get("/v1/health")
    assert health.status_code == 200, health.text
    said = health.json()["checks"]["ingest_writer"]
    assert said.startswith("ok (restarts: 1; last stop: SystemExit"), said
    retried = api.post("/v1/alerts", json=ALERT)
    assert retried.status_code == 202, retried.text
    assert api.get("/v1/alerts").json()["total"] == 1


@killing_the_writer
def test_a_failed_request_releases_its_key_even_when_the_first_release_fails(
    api: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = container.edge.idempotency
    assert isinstance(store, idempotency.SqlIdempotencyStore)
    delete = store._delete
    calls: list[str] = []

    def outage_then_back(principal: str, key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise Unavailable("the database is unavailable; retry shortly")
        delete(principal, key)

    monkeypatch.setattr(store, "_delete", outage_then_back)
    die_once(monkeypatch)
    headers = {"Idempotency-Key": "alert-1"}
    assert api.post("/v1/alerts", json=ALERT, headers=headers).status_code == 503
    retried = api.post("/v1/alerts", json=ALERT, headers=headers)
    assert retried.status_code == 202, retried.text  # not 409 "still being processed"
    assert calls == ["alert-1", "alert-1"]
    replayed = api.post("/v1/alerts", json=ALERT, headers=headers)
    assert replayed.headers.get("idempotent-replayed") == "true"


def test_an_unanswered_claim_ends_after_its_lease(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    """A claim left with no answer (its process died, or its release was lost with the
    database) holds the key for LEASE, then a retry runs."""
    headers = {"Idempotency-Key": "alert-2"}
    first = api.post("/v1/alerts", json=ALERT, headers=headers)
    principal_key = _claim_row(container, "alert-2")
    _forget_answer(container, principal_key)
    assert api.post("/v1/alerts", json=ALERT, headers=headers).status_code == 409
    clock.advance(idempotency.LEASE + timedelta(seconds=1))
    again = api.post("/v1/alerts", json=ALERT, headers=headers)
    assert again.status_code == 202, again.text
    assert "idempotent-replayed" not in again.headers
    assert first.json()["dedup_key"] == again.json()["dedup_key"]


def test_a_kept_answer_is_replayed_for_24_hours_then_the_key_is_free(
    api: TestClient, clock: FixedClock
) -> None:
    headers = {"Idempotency-Key": "declare-1"}
    first = api.post("/v1/incidents", json={"title": "a", "severity": "SEV3"}, headers=headers)
    clock.advance(timedelta(hours=23))
    replay = api.post("/v1/incidents", json={"title": "a", "severity": "SEV3"}, headers=headers)
    assert replay.json()["id"] == first.json()["id"]
    other = api.post("/v1/incidents", json={"title": "b", "severity": "SEV3"}, headers=headers)
    assert other.status_code == 422  # same key, other body, within the day
    clock.advance(timedelta(hours=1, seconds=1))
    fresh = api.post("/v1/incidents", json={"title": "b", "severity": "SEV3"}, headers=headers)
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["id"] != first.json()["id"]


def _claim_row(container: Container, key: str) -> tuple[str, str]:
    from sqlalchemy import select

    from so1.adapters.db.tables import idempotency_keys as k

    with container.engine.connect() as conn:
        row = conn.execute(select(k.c.principal, k.c.key).where(k.c.key == key)).one()
    return str(row.principal), str(row.key)


def _forget_answer(container: Container, principal_key: tuple[str, str]) -> None:
    from sqlalchemy import update

    from so1.adapters.db.tables import idempotency_keys as k

    principal, key = principal_key
    with container.engine.begin() as conn:
        conn.execute(
            update(k)
            .where(k.c.principal == principal, k.c.key == key)
            .values(status_code=None, body=None, content_type=None)
        )
