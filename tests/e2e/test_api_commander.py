"""Declaration through the API: the seed's Phase 2 example, SEV1 escalation, delivery through
the outbox (retries, a paging webhook outage, the status-page fallback), and the commander
running by itself after triage declares."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from so1.adapters.chat.builtin import BuiltinChat
from so1.adapters.clock import FixedClock
from so1.adapters.paging.builtin import BuiltinPager
from so1.adapters.statuspage.builtin import BuiltinStatusPage
from so1.bootstrap import Container
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.domain.severity import Severity
from so1.errors import Unavailable
from so1.ports import Messenger
from so1.services.declaration.outbox import deliver_due
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor
from tests.e2e.test_api_oncall import example
from tests.unit.test_commander import SEED_INTERNAL, SEED_STATUS_PAGE

SEED_ID = "INC-20240115-0042"
SEED_INPUTS: dict[str, Any] = {
    "incident_id": SEED_ID,
    "severity": "SEV2",
    "triage_report": {
        "symptoms": ["High error rate", "Connection pool exhaustion"],
        "impact": {"users_affected": 150, "services": ["control-plane-api"]},
        "hypothesis": ["Connection pool undersized"],
    },
    "commander": "oncall-backend",
    "channel": "#incident-20240115-0042",
}


def seed_incident(container: Container) -> Incident:
    """The 42nd incident of 15 January 2024, as in the seed."""
    actor, new = Actor("test"), NewIncident("filler", Severity.SEV4)
    for _ in range(41):
        create_incident(container.uow, container.clock, actor, new)
    impact = {"affected": "workflow executions"}
    seed = NewIncident("API error rate spike", Severity.SEV2, service="control-plane-api",
                       impact=impact)  # fmt: skip
    incident = create_incident(container.uow, container.clock, actor, seed)
    assert incident.id == SEED_ID
    return incident


def declare(api: TestClient, **changes: Any) -> dict[str, Any]:
    body = {"agent": "incident-commander", "inputs": {**SEED_INPUTS, **changes}}
    response = api.post("/v1/orchestrate", json=body)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    assert run["status"] == "completed", run
    return run


def messages(api: TestClient, to: str | None = None) -> list[dict[str, Any]]:
    params = {"to": to} if to else None
    response = api.get(f"/v1/incidents/{SEED_ID}/messages", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_seed_phase2_example(quiet_api: TestClient, container: Container) -> None:
    seed_incident(container)
    plan = declare(quiet_api)["output"]
    assert plan["topic"] == "SEV2: API error rate spike | Commander: @oncall-backend"
    incident = quiet_api.get(f"/v1/incidents/{SEED_ID}").json()
    assert (incident["channel"], incident["commander"]) == (
        "#incident-20240115-0042",
        "oncall-backend",
    )
    assert incident["status"] == "investigating"

    said = messages(quiet_api)
    assert [(m["to"], m["kind"], m["status"]) for m in said] == [
        ("war_room", "declared", "pending"),
        ("pager", "page", "pending"),
    ]
    assert said[0]["text"] == SEED_INTERNAL  # no status page for SEV2
    assert deliver_due(container.uow, container.clock, container.adapters.messengers) == 2
    assert {m["status"] for m in messages(quiet_api)} == {"sent"}
    timeline = quiet_api.get(f"/v1/incidents/{SEED_ID}/timeline").json()["events"]
    kinds = [e["kind"] for e in timeline]
    assert "war_room.opened" in kinds
    assert kinds.count("communication.sent") == 2


def test_same_example_as_sev1_posts_status_page_and_escalates(
    quiet_api: TestClient, container: Container
) -> None:
    assert quiet_api.put("/v1/oncall/config", json=example()).status_code == 200
    body = {"tier": "critical", "owner_team": "backend", "public_name": "API"}
    assert quiet_api.put("/v1/services/control-plane-api", json=body).status_code == 201
    seed_incident(container)
    plan = declare(quiet_api, severity="SEV1", commander="bo")["output"]
    assert plan["commander"] == "bo"
    status_page = messages(quiet_api, "status_page")
    assert [m["text"] for m in status_page] == [SEED_STATUS_PAGE]
    war_room = messages(quiet_api, "war_room")
    assert [m["kind"] for m in war_room] == ["declared", "escalation"]
    assert war_room[1]["text"].startswith("/pd escalate to eng-lead")
    assert {m["target"] for m in messages(quiet_api, "pager")} == {"bo", "eng-lead"}


def test_declaring_a_missing_incident_is_404(quiet_api: TestClient) -> None:
    response = quiet_api.post(
        "/v1/orchestrate", json={"agent": "incident-commander", "inputs": SEED_INPUTS}
    )
    assert response.status_code == 404
    assert "declare it first" in response.json()["detail"]


def test_a_bad_request_is_refused_naming_the_field(quiet_api: TestClient) -> None:
    """Validated at the edge into the commander's request: nothing runs, nothing is kept."""
    body = {"agent": "incident-commander", "inputs": {**SEED_INPUTS, "severity": "SEV9"}}
    response = quiet_api.post("/v1/orchestrate", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "inputs.severity"
    assert [a["action"] for a in quiet_api.get("/v1/audit").json()] == ["key.create"]


class PagingEndpoint:
    """A paging webhook (on httpx.MockTransport) that is down (503), then rate limits (429
    with Retry-After: 30), then takes pages."""

    def __init__(self) -> None:
        self.answers = [503, 429]
        self.received: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.received.append({**body, "key": request.headers["Idempotency-Key"]})
        code = self.answers.pop(0) if self.answers else 200
        return httpx.Response(code, headers={"Retry-After": "30"} if code == 429 else {})


def test_paging_webhook_outage_delays_but_loses_nothing(
    quiet_api: TestClient,
    container: Container,
    clock: FixedClock,
) -> None:
    handler = PagingEndpoint()
    seed_incident(container)
    declare(quiet_api)
    http = httpx.Client(transport=httpx.MockTransport(handler))
    pager = BuiltinPager("https://pages.example.com/page", http)
    messengers = {**container.adapters.messengers, Destination.PAGER: pager}
    deliver_due(container.uow, clock, messengers)  # 503: retried in 2 s
    (page,) = messages(quiet_api, "pager")
    assert (page["status"], page["attempts"], "503" in page["last_error"]) == ("pending", 1, True)
    assert deliver_due(container.uow, clock, messengers) == 0  # not due yet
    clock.advance(timedelta(seconds=3))
    deliver_due(container.uow, clock, messengers)  # 429 with Retry-After: 30
    clock.advance(timedelta(seconds=20))
    assert deliver_due(container.uow, clock, messengers) == 0
    clock.advance(timedelta(seconds=11))
    deliver_due(container.uow, clock, messengers)
    (page,) = messages(quiet_api, "pager")
    assert (page["status"], page["attempts"]) == ("sent", 3)
    assert [r["handle"] for r in handler.received] == ["oncall-backend"] * 3
    assert {r["key"] for r in handler.received} == {f"so1-page-{page['id']}"}


class DownStatusPage:
    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        raise Unavailable("status page: HTTP 503")


def test_status_page_down_falls_back_to_the_war_room_once(
    quiet_api: TestClient, container: Container, clock: FixedClock
) -> None:
    seed_incident(container)
    declare(quiet_api, severity="SEV1")
    messengers: dict[Destination, Messenger] = {
        Destination.WAR_ROOM: BuiltinChat(),
        Destination.STATUS_PAGE: DownStatusPage(),
        Destination.PAGER: BuiltinPager(None, httpx.Client()),
    }
    for _ in range(3):
        deliver_due(container.uow, clock, messengers)
        clock.advance(timedelta(minutes=1))
    (update,) = messages(quiet_api, "status_page")
    assert (update["status"], update["attempts"]) == ("pending", 3)
    notes = [m for m in messages(quiet_api, "war_room") if m["kind"] == "status_page_fallback"]
    assert len(notes) == 1
    assert "another way" in notes[0]["text"]
    assert notes[0]["text"].endswith(update["text"])
    assert update["text"].startswith("**Investigating - Control Plane API Performance Issues**")
    assert notes[0]["status"] == "sent"
    messengers[Destination.STATUS_PAGE] = BuiltinStatusPage()
    clock.advance(timedelta(minutes=5))
    deliver_due(container.uow, clock, messengers)
    assert messages(quiet_api, "status_page")[0]["status"] == "sent"


def test_war_room_posts_are_delivered_and_on_the_timeline(
    quiet_api: TestClient, container: Container
) -> None:
    seed_incident(container)
    declare(quiet_api)
    posted = quiet_api.post(f"/v1/incidents/{SEED_ID}/messages", json={"text": "looking at pool"})
    assert posted.status_code == 201
    assert (posted.json()["kind"], posted.json()["target"]) == ("note", "admin")
    deliver_due(container.uow, container.clock, container.adapters.messengers)
    assert messages(quiet_api, "war_room")[-1]["status"] == "sent"
    assert quiet_api.post(f"/v1/incidents/{SEED_ID}/messages", json={"text": ""}).status_code == 422
    missing = quiet_api.post("/v1/incidents/INC-20240115-9999/messages", json={"text": "x"})
    assert missing.status_code == 404


def test_triage_declaring_an_incident_runs_the_commander(
    quiet_api: TestClient, container: Container
) -> None:
    from tests.e2e.test_seed_triage import SEED_INPUTS as TRIAGE_INPUTS, seed_world

    quiet_api.put("/v1/oncall/config", json=example())
    seed_world(quiet_api, container.clock)  # type: ignore[arg-type]
    run = quiet_api.post(
        "/v1/orchestrate", json={"agent": "triage-responder", "inputs": TRIAGE_INPUTS}
    ).json()
    incident_id = run["output"]["incident_id"]
    incident = quiet_api.get(f"/v1/incidents/{incident_id}").json()
    assert incident["channel"] == "#incident-" + incident_id.removeprefix("INC-")
    assert incident["status"] == "investigating"
    said = quiet_api.get(f"/v1/incidents/{incident_id}/messages").json()
    assert said[0]["kind"] == "declared"
    assert "Investigating database connection pool exhaustion" in said[0]["text"]


def test_public_status_page_shows_announced_incidents_only(
    quiet_api: TestClient, anon: TestClient, container: Container
) -> None:
    body = {"tier": "critical", "owner_team": "backend", "public_name": "API"}
    quiet_api.put("/v1/services/control-plane-api", json=body)
    assert anon.get("/status.json").json() == {
        "status": "operational",
        "components": [{"name": "API", "status": "operational"}],
        "incidents": [],
    }
    seed_incident(container)
    declare(quiet_api, severity="SEV1")
    assert anon.get("/status.json").json()["incidents"] == []  # queued, not yet delivered
    deliver_due(container.uow, container.clock, container.adapters.messengers)
    found = anon.get("/status.json").json()
    assert found["status"] == "partial_outage"
    (incident,) = found["incidents"]
    assert (incident["title"], incident["state"]) == ("API Performance Issues", "investigating")
    # /status.json carries the words without the markdown (the HTML page renders it)
    assert [u["text"] for u in incident["updates"]] == [SEED_STATUS_PAGE.replace("**", "")]
    assert incident["id"] != SEED_ID and SEED_ID not in json.dumps(found)
    page = anon.get("/status")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "API Performance Issues" in page.text and "Partial outage" in page.text
    assert "<strong>Investigating - API Performance Issues</strong>" in page.text

    resolved = {"status": "resolved", "resolution_summary": "Increased connection pool size"}
    assert quiet_api.patch(f"/v1/incidents/{SEED_ID}", json=resolved).status_code == 200
    after = anon.get("/status.json").json()
    assert (after["status"], after["incidents"][0]["state"]) == ("operational", "resolved")


def test_acknowledging_and_resolving_follow_up_at_the_pager_with_the_same_key(
    quiet_api: TestClient, container: Container
) -> None:
    seed_incident(container)
    declare(quiet_api)
    assert quiet_api.post(f"/v1/incidents/{SEED_ID}/acknowledge").status_code == 200
    quiet_api.post(f"/v1/incidents/{SEED_ID}/acknowledge")  # twice: nothing more queued
    resolved = {"status": "resolved", "resolution_summary": "pool raised"}
    assert quiet_api.patch(f"/v1/incidents/{SEED_ID}", json=resolved).status_code == 200
    pages = messages(quiet_api, "pager")
    assert [m["kind"] for m in pages] == ["page", "page_acknowledge", "page_resolve"]
    with container.uow(read_only=True) as uow:
        stored = {m.id: m for m in uow.outbox.for_incident(SEED_ID, Destination.PAGER)}
    assert {stored[m["id"]].payload["dedup_key"] for m in pages} == {
        "so1-INC-20240115-0042-oncall-backend"
    }


def test_security_incident_record_needs_the_security_scope(
    quiet_api: TestClient, anon: TestClient, container: Container
) -> None:
    from so1.domain.access import Scope
    from tests.conftest import make_key

    seed_incident(container)
    report = {"hypotheses": [{"cause": "security_breach", "confidence": 0.9}]}
    assert declare(quiet_api, severity="SEV0", triage_report=report)["output"]["private"]
    reader = {"Authorization": f"Bearer {make_key(container, Scope.READ, name='reader')}"}
    cleared = {"Authorization": f"Bearer {make_key(container, Scope.READ, Scope.SECURITY)}"}
    for path in (f"/v1/incidents/{SEED_ID}/timeline", f"/v1/incidents/{SEED_ID}/messages"):
        hidden = anon.get(path, headers=reader)  # like an incident that does not exist
        assert hidden.status_code == 404 and "does not exist" in hidden.json()["detail"]
        assert anon.get(path, headers=cleared).status_code == 200
    deliver_due(container.uow, container.clock, container.adapters.messengers)
    assert anon.get("/status.json").json()["incidents"] == []  # never on the status page


def test_resolving_tells_the_war_room_and_the_status_page(
    quiet_api: TestClient, anon: TestClient, container: Container, clock: FixedClock
) -> None:
    body = {"tier": "critical", "owner_team": "backend", "public_name": "API"}
    quiet_api.put("/v1/services/control-plane-api", json=body)
    seed_incident(container)
    declare(quiet_api, severity="SEV1")
    clock.advance(timedelta(minutes=47))
    resolved = {"status": "resolved", "resolution_summary": "Increased connection pool size"}
    assert quiet_api.patch(f"/v1/incidents/{SEED_ID}", json=resolved).status_code == 200
    deliver_due(container.uow, clock, container.adapters.messengers)
    room = [m for m in messages(quiet_api, "war_room") if m["kind"] == "resolved"]
    assert [m["text"] for m in room] == [
        "✅ **SEV1 Incident Resolved: API Error Rate Spike**\n**Duration**: 47 min\n"
        "**Resolution**: Increased connection pool size\n**Commander**: @oncall-backend\n"
        "Postmortem to follow within 48 hours."
    ]
    public = anon.get("/status.json").json()["incidents"][0]
    assert public["state"] == "resolved"
    assert public["updates"][0]["text"].startswith("Resolved - API Performance Issues\n")
