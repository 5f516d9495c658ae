"""Runbook clocks: checks derived from the record, late checks escalated once even across a
worker restart, the 15-minute update cadence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.severity import Severity
from so1.services.declaration.outbox import deliver_due
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from so1.services.runbook.clocks import check_clocks
from tests.e2e.conftest import Cli
from tests.e2e.test_api_commander import SEED_ID, declare, seed_incident
from tests.e2e.test_api_oncall import example


def runbook(api: TestClient, incident_id: str = SEED_ID) -> dict[str, dict[str, Any]]:
    response = api.get(f"/v1/incidents/{incident_id}/runbook")
    assert response.status_code == 200, response.text
    return {c["id"]: c for c in response.json()["checks"]}


def states(api: TestClient, incident_id: str = SEED_ID) -> dict[str, str]:
    return {k: v["state"] for k, v in runbook(api, incident_id).items()}


def test_declaration_and_acknowledgement_tick_the_checks(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    seed_incident(container)
    clock.advance(timedelta(minutes=1))
    declare(quiet_api)
    deliver_due(container.uow, clock, container.adapters.messengers)
    found = states(quiet_api)
    assert found == {
        "acknowledged": "pending",
        "triaged": "done",
        "war_room": "done",
        "commander": "pending",
        "initial_communication": "done",
        "status_page": "not_applicable",
        "updates": "pending",
        "mitigated": "pending",
        "resolved": "pending",
        "postmortem_drafted": "waiting",
        "postmortem_published": "waiting",
        "root_cause_identified": "waiting",
        "action_items_owned": "waiting",
        "learnings_incorporated": "waiting",
    }
    checks = runbook(quiet_api)
    assert "declared delivered" in checks["initial_communication"]["evidence"]
    assert checks["updates"]["due_at"].startswith("2024-01-15T15:01")  # 15 min after declared
    ack = quiet_api.post(f"/v1/incidents/{SEED_ID}/acknowledge")
    assert ack.status_code == 200
    after = runbook(quiet_api)
    assert (after["acknowledged"]["state"], after["commander"]["state"]) == ("done", "done")
    assert "oncall-backend" in after["commander"]["evidence"]


def test_late_first_message_shows_the_breach_and_escalates_once_after_a_restart(
    quiet_api: TestClient, container: Container, clock: FixedClock, db_url: str
) -> None:
    quiet_api.put("/v1/oncall/config", json=example())
    quiet_api.put(
        "/v1/services/control-plane-api", json={"tier": "critical", "owner_team": "backend"}
    )
    incident = create_incident(
        container.uow,
        clock,
        Actor("test"),
        NewIncident("Checkout down", Severity.SEV1, service="control-plane-api"),
    )
    clock.advance(timedelta(minutes=6))
    checks = runbook(quiet_api, incident.id)
    assert checks["initial_communication"]["state"] == "late"
    assert checks["initial_communication"]["due_at"].startswith("2024-01-15T14:50")
    late = {k for k, v in checks.items() if v["state"] == "late"}
    assert late == {"acknowledged", "war_room", "commander", "initial_communication", "status_page"}

    assert check_clocks(container.uow, clock) == 3  # the ones marked escalate in runbook.yaml
    restarted = build_container(Settings(database_url=db_url, db_pool_size=2), clock=clock)
    try:
        assert check_clocks(restarted.uow, clock) == 0
    finally:
        restarted.close()
    timeline = quiet_api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    assert sorted(e["data"]["check"] for e in timeline if e["kind"] == "runbook.late") == [
        "acknowledged",
        "commander",
        "initial_communication",
    ]
    said = quiet_api.get(f"/v1/incidents/{incident.id}/messages").json()
    assert [m["target"] for m in said if m["to"] == "pager"] == ["eng-lead"] * 3
    assert sum(m["kind"] == "runbook_late" for m in said) == 3


def test_updates_are_due_every_15_minutes_and_each_miss_fires_once(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    seed_incident(container)
    declare(quiet_api)
    quiet_api.post(f"/v1/incidents/{SEED_ID}/acknowledge")
    deliver_due(container.uow, clock, container.adapters.messengers)
    clock.advance(timedelta(minutes=16))
    assert states(quiet_api)["updates"] == "late"
    assert check_clocks(container.uow, clock) == 1
    assert check_clocks(container.uow, clock) == 0
    quiet_api.post(f"/v1/incidents/{SEED_ID}/messages", json={"text": "Update: pool raised"})
    deliver_due(container.uow, clock, container.adapters.messengers)
    updates = runbook(quiet_api)["updates"]
    assert updates["state"] == "pending"
    assert "last at 15:01" in updates["evidence"]
    clock.advance(timedelta(minutes=16))
    assert check_clocks(container.uow, clock) == 1  # the next deadline is a new alarm
    assert quiet_api.get("/v1/incidents/INC-20240115-9999/runbook").status_code == 404


def test_cli_declares_acknowledges_and_shows_runbook_and_messages(
    server_cli: Cli, container: Container
) -> None:
    container.settings.delivery_worker = False
    seed_incident(container)
    declared = server_cli("incident", "declare", SEED_ID, "--commander", "oncall-backend")
    assert "#incident-20240115-0042" in declared.assert_ok().stdout
    deliver_due(container.uow, container.clock, container.adapters.messengers)
    said = server_cli("incident", "messages", SEED_ID).assert_ok().stdout
    assert "SEV2 Incident Declared: API Error Rate Spike" in said
    assert "sent" in said
    server_cli("incident", "say", SEED_ID, "pool size raised to 50").assert_ok()
    assert "acknowledged at" in server_cli("incident", "ack", SEED_ID).assert_ok().stdout
    table = server_cli("incident", "runbook", SEED_ID, "--json").assert_ok().stdout
    assert '"late": []' in table
    missing = server_cli("incident", "runbook", "INC-20240115-9999").assert_clean_failure()
    assert "does not exist" in missing


def test_escalation_policy_walks_until_acknowledged_once_per_step(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    from so1.services.declaration.escalation import escalate_unacknowledged

    quiet_api.put("/v1/oncall/config", json=example())
    owned = {"tier": "critical", "owner_team": "backend"}
    quiet_api.put("/v1/services/control-plane-api", json=owned)
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))  # oncall-backend primary, bo secondary
    incident = create_incident(
        container.uow,
        clock,
        Actor("test"),
        NewIncident("API error rate spike", Severity.SEV2, service="control-plane-api"),
    )
    plan = declare(quiet_api, incident_id=incident.id, commander=None)["output"]
    assert plan["commander"] == "oncall-backend"

    def paged() -> list[str]:
        said = quiet_api.get(f"/v1/incidents/{incident.id}/messages", params={"to": "pager"})
        return [m["target"] for m in said.json()]

    assert escalate_unacknowledged(container.uow, clock) == 0
    clock.advance(timedelta(minutes=5))  # level 1 times out: the secondary schedule
    assert escalate_unacknowledged(container.uow, clock) == 1
    assert escalate_unacknowledged(container.uow, clock) == 0
    assert paged() == ["oncall-backend", "bo"]
    current = quiet_api.get(f"/v1/incidents/{incident.id}").json()
    assert current["commander"] == "bo"  # no answer from the commander: the backup takes over
    clock.advance(timedelta(minutes=10))  # then the engineering lead
    assert escalate_unacknowledged(container.uow, clock) == 1
    assert paged()[-1] == "eng-lead"
    quiet_api.post(f"/v1/incidents/{incident.id}/acknowledge")
    clock.advance(timedelta(hours=2))
    assert escalate_unacknowledged(container.uow, clock) == 0
    steps = [
        e
        for e in quiet_api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
        if e["kind"] == "escalation.step"
    ]
    assert [e["data"]["handles"] for e in steps] == [["bo"], ["eng-lead"]]


def test_commander_is_reminded_before_an_update_is_due_with_a_draft(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    seed_incident(container)
    declare(quiet_api)
    quiet_api.post(f"/v1/incidents/{SEED_ID}/acknowledge")
    deliver_due(container.uow, clock, container.adapters.messengers)
    clock.advance(timedelta(minutes=5))
    quiet_api.post(f"/v1/incidents/{SEED_ID}/messages", json={"text": "pool at 100% confirmed"})
    severity = {"severity": "SEV1", "severity_reason": "checkout failing too"}
    quiet_api.patch(f"/v1/incidents/{SEED_ID}", json=severity)
    clock.advance(timedelta(minutes=5))  # 10 min after declaring: not yet
    assert check_clocks(container.uow, clock) == 0
    clock.advance(timedelta(minutes=3))  # 2 min before the update is due
    assert check_clocks(container.uow, clock) == 1
    assert check_clocks(container.uow, clock) == 0
    (reminder,) = [m for m in messages_of(quiet_api) if m["kind"] == "update_reminder"]
    assert reminder["text"].startswith("⏰ @oncall-backend: the next update is due at 15:00 UTC")
    assert "**SEV1 Update: API Error Rate Spike**" in reminder["text"]
    assert "pool at 100% confirmed" in reminder["text"]
    assert "severity SEV2 → SEV1: checkout failing too" in reminder["text"]


def messages_of(api: TestClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/v1/incidents/{SEED_ID}/messages").json()
    return found
