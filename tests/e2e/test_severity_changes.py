"""Severity changes are runbook events (issue 15, item 1): a reason on every path (API, CLI,
web, Slack); going up into SEV0-1 runs the new level's actions not run yet, once, through the
outbox; going down tells the status page and stops the pages that no longer apply."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.services.declaration.outbox import deliver_due
from tests.e2e.conftest import Cli
from tests.e2e.test_api_commander import SEED_ID, declare, messages, seed_incident
from tests.e2e.test_api_oncall import example
from tests.e2e.test_web_pages import CSRF, FORM, sign_in

INCIDENT = f"/v1/incidents/{SEED_ID}"


def set_up(api: TestClient, container: Container, **declared: Any) -> None:
    """The seed incident (SEV2, control-plane-api owned by backend, public name API),
    declared with the example on-call set-up."""
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    body = {"tier": "critical", "owner_team": "backend", "public_name": "API"}
    assert api.put("/v1/services/control-plane-api", json=body).status_code == 201
    seed_incident(container)
    declare(api, **declared)


def kinds(api: TestClient) -> Counter[tuple[str, str, str | None]]:
    """The outbox, counted by (destination, kind, who was paged)."""
    return Counter(
        (m["to"], m["kind"], m["target"] if m["to"] == "pager" else None) for m in messages(api)
    )


def change(api: TestClient, severity: str, reason: str | None = None) -> dict[str, Any]:
    body = {"severity": severity} | ({"severity_reason": reason} if reason is not None else {})
    response = api.patch(INCIDENT, json=body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_sev2_to_sev1_posts_one_notice_one_escalation_one_war_room_message(
    quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container)
    before = kinds(quiet_api)
    assert before == {("war_room", "declared", None): 1, ("pager", "page", "oncall-backend"): 1}

    incident = change(quiet_api, "SEV1", "checkout failing too")
    added = kinds(quiet_api) - before
    assert added == {
        ("status_page", "declared", None): 1,
        ("war_room", "escalation", None): 1,
        ("war_room", "severity_changed", None): 1,
        ("pager", "page", "eng-lead"): 1,
        ("pager", "page", "bo"): 1,  # the new commander
    }
    # oncall-backend is not a senior engineer: the severity table asks for one at SEV1
    assert incident["commander"] == "bo"
    [note] = [m for m in messages(quiet_api, "war_room") if m["kind"] == "severity_changed"]
    assert "SEV2 → SEV1" in note["text"] and "checkout failing too" in note["text"]
    assert "@bo" in note["text"] and "engineering lead" in note["text"]
    [notice] = messages(quiet_api, "status_page")
    assert notice["text"].startswith("**Investigating - API ")
    history = quiet_api.get(f"{INCIDENT}/timeline").json()["severity_history"]
    assert history[-1]["reason"] == "checkout failing too"


def test_going_up_again_runs_only_what_the_new_level_adds(
    quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container, severity="SEV1", commander="bo")
    assert deliver_due(container.uow, container.clock, container.adapters.messengers) > 0
    before = kinds(quiet_api)
    change(quiet_api, "SEV0", "every region is down")
    added = kinds(quiet_api) - before
    assert added == {
        ("war_room", "all_hands", None): 1,
        ("war_room", "severity_changed", None): 1,
        ("pager", "page", "cto"): 1,
    }
    incident = quiet_api.get(INCIDENT).json()
    assert (incident["severity"], incident["commander"]) == ("SEV0", "eng-lead")


def test_a_change_without_a_reason_is_422_and_changes_nothing(
    quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container)
    before = kinds(quiet_api)
    for body in ({"severity": "SEV1"}, {"severity": "SEV1", "severity_reason": "   "}):
        response = quiet_api.patch(INCIDENT, json=body)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["errors"][0]["field"] == "severity_reason"
        assert "reason" in problem["detail"]
    assert quiet_api.get(INCIDENT).json()["severity"] == "SEV2"
    assert kinds(quiet_api) == before
    # the same severity again is not a change: no reason needed
    assert quiet_api.patch(INCIDENT, json={"severity": "SEV2"}).status_code == 200


def test_going_down_updates_the_status_page_and_stops_the_leads_page(
    quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container, severity="SEV1", commander="bo")
    before = kinds(quiet_api)
    change(quiet_api, "SEV2", "only one region affected")
    added = kinds(quiet_api) - before
    assert added == {
        ("status_page", "update", None): 1,
        ("war_room", "severity_changed", None): 1,
        ("pager", "page_resolve", "eng-lead"): 1,
    }
    update = messages(quiet_api, "status_page")[-1]
    assert "impact has been reduced" in update["text"]
    # down again below SEV2: the status page already heard; nothing new for customers
    change(quiet_api, "SEV3", "a workaround is in place")
    assert kinds(quiet_api)[("status_page", "update", None)] == 1


def test_an_undeclared_incident_only_records_the_change(
    quiet_api: TestClient, container: Container
) -> None:
    seed_incident(container)
    change(quiet_api, "SEV1", "checkout failing too")
    assert messages(quiet_api) == []  # declaring it later runs the SEV1 actions
    body = {"agent": "incident-commander", "inputs": {"incident_id": SEED_ID}}
    run = quiet_api.post("/v1/orchestrate", json=body).json()
    assert run["output"]["severity"] == "SEV1"
    assert {m["to"] for m in messages(quiet_api)} == {"status_page", "war_room"}  # no one on call


def test_the_cli_needs_a_reason(
    server_cli: Cli, quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container)
    refused = server_cli("incident", "update", SEED_ID, "--severity", "SEV1")
    assert "--reason" in refused.assert_clean_failure()
    server_cli(
        "incident", "update", SEED_ID, "--severity", "SEV1", "--reason", "checkout"
    ).assert_ok()
    assert kinds(quiet_api)[("war_room", "severity_changed", None)] == 1


def test_the_web_form_needs_a_reason(
    quiet_api: TestClient, container: Container, admin_token: str
) -> None:
    set_up(quiet_api, container)
    client = sign_in(container, admin_token)
    token = CSRF.search(client.get(f"/incidents/{SEED_ID}").text)
    assert token is not None
    form = {"severity": "SEV1", "reason": "", "csrf": token.group(1)}
    refused = client.post(f"/incidents/{SEED_ID}/change", content=urlencode(form), headers=FORM)
    assert refused.status_code == 422 and "reason" in refused.text
    form["reason"] = "checkout failing too"
    done = client.post(f"/incidents/{SEED_ID}/change", content=urlencode(form), headers=FORM)
    assert done.status_code == 303
    assert kinds(quiet_api)[("status_page", "declared", None)] == 1
