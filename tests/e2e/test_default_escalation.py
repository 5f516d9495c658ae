"""An incident on a service without an owner team or escalation policy escalates through the
default policy (SO1_DEFAULT_ESCALATION_POLICY, else the built-in one), and the runbook view
and the incident page say "no policy for service X: default used" (issue 15, item 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.services.declaration.escalation import escalate_unacknowledged
from so1.services.runbook.clocks import check_clocks
from tests.conftest import open_incident
from tests.e2e.conftest import Cli
from tests.e2e.test_api_commander import declare
from tests.e2e.test_api_oncall import load
from tests.e2e.test_web_pages import sign_in

WEDNESDAY = datetime(2026, 1, 7, 12, tzinfo=UTC)  # oncall-backend, bo and dee on call


def new_incident(api: TestClient, service: str) -> str:
    body = {"title": "Jobs stuck", "severity": "SEV2", "service": service}
    created = api.post("/v1/incidents", json=body)
    assert created.status_code == 201, created.text
    incident_id: str = created.json()["id"]
    return incident_id


def escalation(api: TestClient, incident_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/incidents/{incident_id}/runbook")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["escalation"]
    return found


def paged(api: TestClient, incident_id: str) -> list[str]:
    said = api.get(f"/v1/incidents/{incident_id}/messages", params={"to": "pager"}).json()
    return [m["target"] for m in said]


def steps(api: TestClient, incident_id: str) -> list[dict[str, Any]]:
    timeline = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    return [e for e in timeline if e["kind"] == "escalation.step"]


def test_unknown_service_escalates_through_the_built_in_default(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    clock.set(WEDNESDAY)
    incident_id = new_incident(quiet_api, "mystery-svc")
    bare = escalation(quiet_api, incident_id)
    assert bare["default_used"] is True
    assert bare["note"].endswith("nobody to escalate to)")  # no on-call config yet
    load(quiet_api)
    plan = declare(quiet_api, incident_id=incident_id, commander=None)["output"]
    assert plan["commander"] == "oncall-backend"
    shown = escalation(quiet_api, incident_id)
    assert shown == {
        "policy": "default (built-in)",
        "default_used": True,
        "note": "no policy for service mystery-svc: default used (default (built-in);"
        " mystery-svc is not in the service catalog)",
    }
    assert escalate_unacknowledged(container.uow, clock) == 0
    clock.advance(timedelta(minutes=5))  # nobody acknowledged: everyone on call
    assert escalate_unacknowledged(container.uow, clock) == 1
    assert escalate_unacknowledged(container.uow, clock) == 0  # each step once
    assert paged(quiet_api, incident_id) == ["oncall-backend", "oncall-backend", "bo", "dee"]
    clock.advance(timedelta(minutes=5))  # then the engineering leads
    assert escalate_unacknowledged(container.uow, clock) == 1
    assert paged(quiet_api, incident_id)[-1] == "eng-lead"
    clock.advance(timedelta(minutes=10))  # then the executives
    assert escalate_unacknowledged(container.uow, clock) == 1
    assert paged(quiet_api, incident_id)[-1] == "cto"
    found = steps(quiet_api, incident_id)
    assert [e["data"]["handles"] for e in found] == [
        ["oncall-backend", "bo", "dee"],
        ["eng-lead"],
        ["cto"],
    ]
    assert all("no policy for service mystery-svc: default used" in e["summary"] for e in found)


def test_the_configured_default_policy_is_used_and_acknowledging_stops_it(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    container.settings.default_escalation_policy = "backend-default"
    clock.set(WEDNESDAY)
    load(quiet_api)
    quiet_api.put("/v1/services/batch-jobs", json={"tier": "medium"})  # no owner team
    incident_id = new_incident(quiet_api, "batch-jobs")
    declare(quiet_api, incident_id=incident_id, commander=None)
    shown = escalation(quiet_api, incident_id)
    assert shown["policy"] == "backend-default"
    assert shown["note"] == (
        "no policy for service batch-jobs: default used (backend-default;"
        " batch-jobs has no owner team)"
    )
    clock.advance(timedelta(minutes=5))
    default = container.settings.default_escalation_policy
    assert escalate_unacknowledged(container.uow, clock, default) == 1
    assert paged(quiet_api, incident_id)[-1] == "bo"  # backend-default's second level
    assert quiet_api.post(f"/v1/incidents/{incident_id}/acknowledge").status_code == 200
    clock.advance(timedelta(hours=1))
    assert escalate_unacknowledged(container.uow, clock, default) == 0


def test_a_service_with_a_team_policy_is_not_defaulted(
    quiet_api: TestClient, clock: FixedClock
) -> None:
    clock.set(WEDNESDAY)
    load(quiet_api)
    quiet_api.put(
        "/v1/services/control-plane-api", json={"tier": "critical", "owner_team": "backend"}
    )
    incident_id = new_incident(quiet_api, "control-plane-api")
    assert escalation(quiet_api, incident_id) == {
        "policy": "backend-default",
        "default_used": False,
        "note": None,
    }


def test_the_incident_page_says_the_default_is_used(
    quiet_api: TestClient, container: Container, clock: FixedClock, admin_token: str
) -> None:
    clock.set(WEDNESDAY)
    load(quiet_api)
    incident_id = new_incident(quiet_api, "mystery-svc")
    page = sign_in(container, admin_token).get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    line = page.text.split('id="escalation"', 1)[1].split("</p>", 1)[0]
    assert "no policy for service mystery-svc: default used" in line


def test_a_late_check_pages_a_lead_not_the_commander_again(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    clock.set(WEDNESDAY)
    load(quiet_api)
    incident_id = new_incident(quiet_api, "mystery-svc")
    declare(quiet_api, incident_id=incident_id, commander=None)
    clock.advance(timedelta(minutes=3))  # the 2-minute acknowledgement is late
    assert check_clocks(container.uow, clock) >= 1
    late = [m for m in paged_messages(quiet_api, incident_id) if "runbook check late" in m["text"]]
    assert late
    assert {m["target"] for m in late} == {"eng-lead"}


def paged_messages(api: TestClient, incident_id: str) -> list[dict[str, Any]]:
    said: list[dict[str, Any]] = api.get(
        f"/v1/incidents/{incident_id}/messages", params={"to": "pager"}
    ).json()
    return said


def test_the_cli_runbook_says_the_default_is_used(
    server_cli: Cli, container: Container, clock: FixedClock
) -> None:
    clock.set(WEDNESDAY)
    incident = open_incident(container, "Jobs stuck", Severity.SEV2, service="mystery-svc")
    shown = server_cli("incident", "runbook", incident.id, COLUMNS="200").assert_ok().stdout
    assert "escalation: no policy for service mystery-svc: default used" in shown


def test_an_incident_never_declared_pages_nobody(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    container.settings.default_escalation_policy = "backend-default"
    clock.set(WEDNESDAY)
    load(quiet_api)
    incident_id = new_incident(quiet_api, "mystery-svc")
    moved = quiet_api.patch(f"/v1/incidents/{incident_id}", json={"status": "investigating"})
    assert moved.status_code == 200, moved.text
    clock.advance(timedelta(minutes=30))
    default = container.settings.default_escalation_policy
    assert escalate_unacknowledged(container.uow, clock, default) == 0
    assert paged(quiet_api, incident_id) == []
    assert escalation(quiet_api, incident_id)["policy"] == "backend-default"  # once declared
