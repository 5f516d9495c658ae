"""Approvals of platform actions from the war room (Slack `/incident approve`) and the CLI
(`so1 run approve|decline`), besides the API."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.testclient import TestClient
from pydantic import SecretStr

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.severity import Severity
from tests.conftest import ensure_person, make_key, open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.conftest import Cli
from tests.e2e.deployer_support import SERVICE, finished
from tests.e2e.test_api_oncall import example
from tests.e2e.test_slack_commands import SECRET, signed


def waiting_run(api: TestClient, container: Container, action: str) -> tuple[str, str]:
    incident = open_incident(container, "Outage", Severity.SEV1, service=SERVICE)
    inputs = {"action": action, "service": SERVICE, "incident_id": incident.id}
    run = api.post("/v1/orchestrate", json={"agent": "railway-deployer", "inputs": inputs}).json()
    assert run["status"] == "awaiting_approval", run
    return incident.id, run["run_id"]


def slack(api: TestClient, clock: FixedClock, text: str, user_id: str, room: str) -> str:
    body = urlencode(
        {
            "command": "/incident",
            "text": text,
            "user_name": "someone",
            "user_id": user_id,
            "channel_name": room,
        }
    )
    answer = api.post(
        "/v1/slack/commands", content=body, headers=signed(body, str(int(clock.now().timestamp())))
    )
    assert answer.status_code == 200, answer.text
    text_out: str = answer.json()["text"]
    return text_out


def test_approve_from_the_war_room_as_a_known_person(
    api: TestClient, container: Container, clock: FixedClock, railway: RailwayState
) -> None:
    container.settings.slack_signing_secret = SecretStr(SECRET)
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    incident_id, run_id = waiting_run(api, container, "rollback")
    room = "incident-" + incident_id.removeprefix("INC-")
    stranger = slack(api, clock, f"approve {run_id}", "U999", room)
    assert "does not know who you are" in stranger  # linked to nobody: refused
    said = slack(api, clock, f"approve {run_id}", "U01BO", room)
    assert said.startswith("rollback of control-plane-api approved: it runs now (@bo")
    done = finished(api, run_id)
    assert done["status"] == "completed" and done["output"]["approved_by"] == "bo"
    again = slack(api, clock, f"approve {run_id}", "U01BO", room)
    assert "Could not do that" in again and "not awaiting approval" in again


def test_show_and_decline_from_the_cli(
    api: TestClient, container: Container, server_cli: Cli, railway: RailwayState
) -> None:
    _, run_id = waiting_run(api, container, "restart")
    shown = server_cli("run", "show", run_id).assert_ok().stdout
    assert "awaiting_approval" in shown and "medium risk during a SEV1" in shown
    own = server_cli("run", "approve", run_id).assert_clean_failure()
    assert "someone other" in own
    lead = make_key(container, Scope.WRITE, Scope.DEPLOY, name="lead")
    declined = server_cli("run", "decline", run_id, SO1_API_KEY=lead).assert_ok().stdout
    assert "failed" in declined and "declined by lead" in declined


def test_the_two_person_rule_compares_people_not_key_names(
    container: Container, railway: RailwayState
) -> None:
    """One person with two keys cannot approve their own action; another person can."""
    from so1.entrypoints.api.app import create_app
    from so1.services.access import keys as access
    from so1.services.incidents.recording import Actor

    def client_of(name: str, person: str | None) -> TestClient:
        scopes = frozenset({Scope.READ, Scope.WRITE, Scope.DEPLOY})
        if person:
            ensure_person(container, person)
        issued = access.create_key(
            container.uow, container.clock, Actor("t"), name, scopes, person=person
        )
        made = TestClient(create_app(container), raise_server_exceptions=False)
        made.headers["Authorization"] = f"Bearer {issued.token}"
        return made

    laptop, phone = client_of("ana-laptop", "ana"), client_of("ana-phone", "ana")
    incident_id, run_id = waiting_run(laptop, container, "rollback")
    refused = phone.post(f"/v1/orchestrate/runs/{run_id}/approve")
    assert refused.status_code == 409 and "(ana)" in refused.json()["detail"], refused.text
    named_ana = client_of("ana", None)  # no person: its name stands for one
    assert named_ana.post(f"/v1/orchestrate/runs/{run_id}/approve").status_code == 409
    bo = client_of("bo-laptop", "bo")
    approved = bo.post(f"/v1/orchestrate/runs/{run_id}/approve")
    assert approved.status_code == 200 and approved.json()["output"]["approved_by"] == "bo-laptop"
    assert finished(bo, run_id)["status"] == "completed"
    assert incident_id
