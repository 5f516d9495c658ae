"""People on an incident: paging a person or a team's on-call by hand (API, CLI, the incident
page) through the outbox, giving and handing over roles from the page, and what the page stops
offering once the incident is resolved."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.severity import Severity
from tests.conftest import make_key, open_incident
from tests.e2e.conftest import Cli
from tests.e2e.test_api_oncall import example
from tests.e2e.test_web_pages import CSRF, FORM, sign_in

WEDNESDAY = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # backend-primary: oncall-backend


def pages_of(api: TestClient, incident_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(
        f"/v1/incidents/{incident_id}/messages", params={"to": "pager"}
    ).json()
    return found


def set_up(api: TestClient, container: Container, clock: FixedClock) -> str:
    clock.set(WEDNESDAY)
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    return open_incident(container, "Checkout down", Severity.SEV2, service="checkout").id


def test_a_person_or_a_team_is_paged_once_through_the_outbox(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident = set_up(api, container, clock)
    path = f"/v1/incidents/{incident}/participants/page"
    sent = api.post(path, json={"handle": "dee", "reason": "database expertise"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["handle"] == "dee" and sent.json()["team"] == "platform-team"
    team = api.post(path, json={"team": "backend", "reason": "more hands"}).json()
    assert team["handle"] == "oncall-backend" and team["team"] == "backend"

    pages = pages_of(api, incident)
    assert sorted((p["target"], p["text"]) for p in pages) == [
        ("dee", "database expertise"),
        ("oncall-backend", "more hands"),
    ]
    roles = api.get(f"/v1/incidents/{incident}/participants").json()
    assert {(r["handle"], r["role"]) for r in roles} >= {
        ("dee", "responder"),
        ("oncall-backend", "responder"),
    }
    events = api.get(f"/v1/incidents/{incident}/timeline").json()["events"]
    paged = [e["data"]["handle"] for e in events if e["kind"] == "responder.paged"]
    assert sorted(paged) == ["dee", "oncall-backend"]


def test_a_page_that_cannot_be_sent_is_a_clear_4xx(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident = set_up(api, container, clock)
    path = f"/v1/incidents/{incident}/participants/page"
    for body, field in (
        ({"handle": "zed", "reason": "r"}, "handle"),
        ({"team": "nobody-team", "reason": "r"}, "team"),
        ({"handle": "dee", "team": "backend", "reason": "r"}, "handle"),
        ({"reason": "r"}, "handle"),
        ({"handle": "dee", "reason": "   "}, "reason"),
    ):
        answer = api.post(path, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.text, (body, answer.text)
    assert api.post(path, json={"handle": "dee"}).status_code == 422  # no reason at all
    reader = make_key(container, Scope.READ, name="reader")
    refused = api.post(path, json={"handle": "dee", "reason": "r"}, headers={
        "Authorization": f"Bearer {reader}"
    })  # fmt: skip
    assert refused.status_code == 403
    resolved = {"status": "resolved", "resolution_summary": "fixed"}
    assert api.patch(f"/v1/incidents/{incident}", json=resolved).status_code == 200
    late = api.post(path, json={"handle": "dee", "reason": "r"})
    assert late.status_code == 409 and "resolved" in late.text
    assert pages_of(api, incident) == []


def test_the_cli_pages_and_gives_roles(
    server_cli: Cli, api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident = set_up(api, container, clock)
    paged = server_cli("incident", "page", incident, "--handle", "bo", "--reason", "second pair")
    assert "paged @bo for backend" in paged.assert_ok().stdout
    assert [p["target"] for p in pages_of(api, incident)] == ["bo"]
    twice = ("--handle", "bo", "--team", "x", "--reason", "r")
    both = server_cli("incident", "page", incident, *twice)
    assert "--handle or --team" in both.assert_clean_failure(2)
    given = server_cli("incident", "role", incident, "cy", "commander").assert_ok().stdout
    assert "commander @cy" in given
    assert api.get(f"/v1/incidents/{incident}").json()["commander"] == "cy"


def post_form(client: TestClient, path: str, fields: dict[str, str]) -> tuple[int, str]:
    token = CSRF.search(client.get("/").text)
    assert token is not None
    answer = client.post(path, content=urlencode(fields | {"csrf": token.group(1)}), headers=FORM)
    return answer.status_code, answer.headers.get("location", answer.text)


def test_the_incident_page_gives_roles_and_pages(
    api: TestClient, container: Container, clock: FixedClock, admin_token: str
) -> None:
    incident = set_up(api, container, clock)
    client = sign_in(container, admin_token)
    page = client.get(f"/incidents/{incident}").text
    assert 'action="/incidents/' + incident + '/roles"' in page
    assert '<option value="team:backend">' in page and '<option value="person:dee">' in page

    role = {"handle": "bo", "role": "commander"}
    assert post_form(client, f"/incidents/{incident}/roles", role)[0] == 303
    again = {"handle": "cy", "role": "commander"}  # handed over
    assert post_form(client, f"/incidents/{incident}/roles", again)[0] == 303
    assert api.get(f"/v1/incidents/{incident}").json()["commander"] == "cy"
    shown = client.get(f"/incidents/{incident}").text
    assert re.search(r"commander: <strong>Cy Ndlovu</strong>", shown)

    who = {"who": "team:backend", "reason": "checkout owners"}
    assert post_form(client, f"/incidents/{incident}/page", who)[0] == 303
    assert [p["target"] for p in pages_of(api, incident)] == ["oncall-backend"]
    status, text = post_form(client, f"/incidents/{incident}/page", {"who": "person:dee"})
    assert status == 422 and "say why" in text
    status, text = post_form(client, f"/incidents/{incident}/roles", {"handle": "bo", "role": "x"})
    assert status == 422 and "the role is one of" in text


def test_war_room_markdown_is_rendered_and_api_paths_are_links(
    api: TestClient, container: Container, admin_token: str
) -> None:
    incident = open_incident(container, "Checkout down", Severity.SEV2, service="checkout").id
    text = f"**Pool at 100%**\nsee GET /v1/incidents/{incident}/runbook\n<script>x</script>"
    assert api.post(f"/v1/incidents/{incident}/messages", json={"text": text}).status_code == 201
    page = sign_in(container, admin_token).get(f"/incidents/{incident}").text
    assert "<strong>Pool at 100%</strong><br" in page
    assert f'<a href="/incidents/{incident}">GET /v1/incidents/{incident}/runbook</a>' in page
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_a_resolved_incident_offers_no_mitigation_or_paging(
    api: TestClient, container: Container, clock: FixedClock, admin_token: str
) -> None:
    incident = set_up(api, container, clock)
    client = sign_in(container, admin_token)
    assert 'id="platform-form"' in client.get(f"/incidents/{incident}").text
    resolved = {"status": "resolved", "resolution_summary": "fixed"}
    assert api.patch(f"/v1/incidents/{incident}", json=resolved).status_code == 200
    page = client.get(f"/incidents/{incident}").text
    assert 'id="platform-form"' not in page
    assert f'action="/incidents/{incident}/page"' not in page
    assert f'action="/incidents/{incident}/roles"' not in page
