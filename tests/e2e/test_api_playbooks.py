"""The runbook's common scenarios: checklists ticked by people, and the complete-outage
quick start (SEV0, a rollback requested when a deployment is recent)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.services.incidents.lifecycle import get_incident
from so1.services.incidents.recording import SYSTEM
from tests.conftest import open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import SERVICE


def test_outage_quick_start_raises_to_sev0_and_requests_a_rollback(
    api: TestClient, container: Container, railway: RailwayState
) -> None:
    incident = open_incident(container, "Everything is down", Severity.SEV1, service=SERVICE)
    deployed = (container.clock.now() - timedelta(hours=2)).isoformat()
    api.post("/v1/deployments", json={"service": SERVICE, "version": "v9", "deployed_at": deployed})
    answer = api.post(f"/v1/incidents/{incident.id}/playbooks/outage")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["done"][0] == "severity SEV1 → SEV0"
    assert "v9 deployed" in found["done"][1] and "rollback requested" in found["done"][1]
    assert found["rollback_status"] == "awaiting_approval"  # medium risk during a SEV0
    assert get_incident(container.uow, incident.id, SYSTEM).severity is Severity.SEV0
    assert len(found["checklist"]["items"]) == 8
    assert not [c for c in railway.calls if c[0] == "deploymentRollback"]


def test_outage_without_a_recent_deployment(api: TestClient, container: Container) -> None:
    incident = open_incident(container, "Down", Severity.SEV0, service="billing")
    found = api.post(f"/v1/incidents/{incident.id}/playbooks/outage").json()
    assert found["done"] == ["no deployment of billing in the last 4 hours"]
    assert found["rollback_run_id"] is None


def test_checklists_keep_who_ticked_what(api: TestClient, container: Container) -> None:
    incident = open_incident(container, "Leak", Severity.SEV0)
    url = f"/v1/incidents/{incident.id}/checklists/security"
    before = api.get(url).json()
    assert before["title"] == "Security Breach (SEV0)"
    assert before["items"][0]["text"] == "DO NOT publicly disclose until assessed"
    assert all(item["done_by"] is None for item in before["items"])
    ticked = api.post(f"{url}/2", json={"note": "so1 security rotate --yes at 14:05"}).json()
    assert ticked["items"][1]["done_by"] == "admin"
    assert ticked["items"][1]["note"] == "so1 security rotate --yes at 14:05"
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    assert any(
        e["kind"] == "checklist.ticked" and "Rotate all API keys" in e["summary"] for e in events
    )
    assert api.post(f"{url}/99").status_code == 422
    assert api.get(f"/v1/incidents/{incident.id}/checklists/alien").status_code == 404
    assert api.get("/v1/incidents/INC-20240115-9999/checklists/security").status_code == 404
