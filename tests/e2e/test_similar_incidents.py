"""Similar past incidents (TF-IDF with scikit-learn) as evidence for triage and the room."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.services.incidents.similar import similar_incidents
from so1.services.triage.flow import process_pending
from tests.conftest import open_incident
from tests.e2e.test_api_oncall import example


def past_incidents(api: TestClient, container: Container) -> tuple[str, str]:
    pool = open_incident(
        container,
        "API error rate spike: connection pool exhausted",
        Severity.SEV2,
        service="control-plane-api",
    )
    api.patch(
        f"/v1/incidents/{pool.id}",
        json={
            "status": "resolved",
            "resolution_summary": "Increased database connection pool from 20 to 50 connections",
        },
    )
    leak = open_incident(
        container, "Worker memory climbing until OOM kills", Severity.SEV3, service="workers"
    )
    api.patch(
        f"/v1/incidents/{leak.id}",
        json={
            "status": "resolved",
            "resolution_summary": "Restarted workers; fixed the cache leak",
        },
    )
    for incident_id, cause in ((pool.id, "connection_exhaustion"), (leak.id, "memory_leak")):
        api.post(
            "/v1/orchestrate",
            json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident_id}},
        )
        with container.uow() as uow:
            kept = uow.postmortems.get(incident_id)
            assert kept is not None
            draft = kept.draft | {"root_cause": {"cause": cause}}
            uow.postmortems.put(replace(kept, draft=draft))
            uow.commit()
    return pool.id, leak.id


def test_ranking_by_text(api: TestClient, container: Container) -> None:
    pool_id, leak_id = past_incidents(api, container)
    with container.uow(read_only=True) as uow:
        found = similar_incidents(uow, "API error rate 12%: connection pool timeout")
        assert found[0].incident_id == pool_id
        assert found[0].cause == "connection_exhaustion"
        assert leak_id not in [f.incident_id for f in found]
        assert similar_incidents(uow, "quarterly marketing newsletter draft") == []
        assert similar_incidents(uow, "connection pool exhausted", exclude=pool_id) == []


def test_triage_and_the_room_see_the_last_fix(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    api.put("/v1/oncall/config", json=example())
    api.put("/v1/services/control-plane-api", json={"tier": "critical", "owner_team": "backend"})
    pool_id, _ = past_incidents(api, container)
    clock.advance(timedelta(days=3))
    api.post(
        "/v1/alerts",
        json={
            "event_action": "trigger",
            "source": "datadog",
            "service": "control-plane-api",
            "metric": "error_rate",
            "current_value": "12%",
            "threshold": "< 1%",
            "summary": "API error rate 12%: connection pool timeout after 5000ms",
        },
    )
    process_pending(
        container.uow,
        container.clock,
        container.triage_agent,
        commander=container.agents.commander,
    )
    incidents = api.get("/v1/incidents", params={"status": "investigating"}).json()["items"]
    [new] = [i for i in incidents if i["id"] != pool_id]
    events = api.get(f"/v1/incidents/{new['id']}/timeline").json()["events"]
    [report] = [e for e in events if e["kind"] == "triage.report"]
    assert report["data"]["similar_incidents"][0]["incident_id"] == pool_id
    top = report["data"]["hypotheses"][0]
    assert top["cause"] == "connection_exhaustion"
    assert any(f"last time ({pool_id}" in line and "20 to 50" in line for line in top["evidence"])
    notes = [
        m for m in api.get(f"/v1/incidents/{new['id']}/messages").json() if m["kind"] == "note"
    ]
    assert notes and "Similar past incidents" in notes[0]["text"] and pool_id in notes[0]["text"]
