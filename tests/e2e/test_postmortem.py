"""The postmortem-analyst on the seed's worked example and on a thin record."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from icalendar import Calendar

from so1.adapters.clock import FixedClock
from so1.adapters.publishing.markdown_dir import MarkdownDirectory
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.incidents import IncidentStatus
from so1.domain.severity import Severity
from so1.services.incidents.lifecycle import get_incident
from so1.services.incidents.recording import SYSTEM
from so1.services.postmortem.drafting import draft_missing
from tests.conftest import make_key, open_incident
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import SERVICE
from tests.e2e.test_api_oncall import example
from tests.e2e.test_verification_loop import mitigate, push, watch

SEED_HYPOTHESIS = {
    "hypothesis": "Database connection pool exhaustion",
    "confidence": 0.85,
    "cause": "connection_exhaustion",
    "evidence": [
        "Connection pool at 100% utilization",
        'Errors: "Connection timeout after 5000ms"',
        "Traffic 2x normal due to bulk execution feature",
        "Deployed 4 hours ago",
    ],
    "steps": [
        {"text": "Check connection pool configuration", "done": True},
        {"text": "Review bulk execution concurrency", "done": True},
        {"text": "Assess if pool can be increased"},
    ],
}


def worked_example(api: TestClient, container: Container, clock: FixedClock) -> str:
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    api.put(f"/v1/services/{SERVICE}", json={"tier": "critical", "owner_team": "backend"})
    start = clock.now()
    api.post(
        "/v1/deployments",
        json={
            "service": SERVICE,
            "version": "v2.14.0",
            "deployed_by": "dana",
            "deployed_at": (start - timedelta(hours=4)).isoformat(),
        },
    )
    api.post(
        "/v1/alerts",
        json={
            "event_action": "trigger",
            "source": "datadog",
            "dedup_key": "err",
            "service": SERVICE,
            "metric": "error_rate",
            "current_value": "12%",
            "threshold": "< 1%",
            "summary": "API error rate 12% (threshold < 1%)",
        },
    )
    incident = open_incident(
        container,
        "API error rate spike",
        Severity.SEV2,
        service=SERVICE,
        status=IncidentStatus.INVESTIGATING,
    )
    api.post(f"/v1/incidents/{incident.id}/acknowledge")
    clock.advance(timedelta(minutes=3))
    api.post(f"/v1/incidents/{incident.id}/hypotheses", json=SEED_HYPOTHESIS)
    clock.advance(timedelta(minutes=5))
    acted = clock.now()
    mitigate(api, incident)
    clock.set(acted + timedelta(minutes=10))
    push(api, clock, "error_rate", [12.0, 3.0] + [0.3] * 9)
    push(api, clock, "latency_p99_ms", [320.0] * 11)
    assert watch(container) == 1
    clock.set(acted + timedelta(minutes=41))
    push(api, clock, "error_rate", [0.3] * 11)
    push(api, clock, "latency_p99_ms", [300.0] * 11)
    assert watch(container) == 1
    return incident.id


def test_the_seed_example_postmortem(
    api: TestClient, container: Container, clock: FixedClock, railway: RailwayState
) -> None:
    incident_id = worked_example(api, container, clock)
    run = api.post(
        "/v1/orchestrate",
        json={
            "agent": "postmortem-analyst",
            "inputs": {
                "incident_id": incident_id,
                "analysis_method": "5_whys",
                "responders": ["oncall-backend", "platform-team"],
                "timeline_source": "incident_record",
            },
        },
    )
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed"
    found: dict[str, Any] = api.get(f"/v1/incidents/{incident_id}/postmortem").json()
    draft, markdown = found["draft"], found["markdown"]
    cause = draft["root_cause"]
    assert cause["title"] == "Database connection pool exhaustion"
    assert cause["confidence"] == 0.9 and "gates passed" in cause["confirmed_by"]
    assert draft["durations"]["time_to_acknowledge_minutes"] == 0.0
    assert draft["durations"]["time_to_mitigate_minutes"] == 8.0
    assert draft["key_times"]["resolved"] is not None
    assert [w["level"] for w in draft["whys"]] == [
        "symptom",
        "mechanism",
        "trigger",
        "missing safeguard",
        "process gap",
    ]
    assert all(w["because"] for w in draft["whys"])
    assert (
        "v2.14.0 of control-plane-api was deployed 4 h before detection"
        in draft["whys"][2]["because"]
    )
    titles = [a["title"] for a in draft["action_items"]]
    assert titles == [
        "Add pool monitoring (alert when utilization stays above 80%)",
        "Load test bulk features against the production pool size",
    ]
    assert {a["owner"] for a in draft["action_items"]} == {"eng-lead"}
    for section in (
        "## Summary",
        "## Impact",
        "## Key times (UTC)",
        "## Timeline",
        "## Root cause",
        "## 5 Whys",
        "## Action items",
        "## What went well (to confirm)",
        "## Where we got lucky (to confirm)",
    ):
        assert section in markdown
    assert (
        "| Add pool monitoring (alert when utilization stays above 80%) | @eng-lead |" in markdown
    )
    assert "Responders: @oncall-backend, @platform-team" in markdown
    text = api.get(f"/v1/incidents/{incident_id}/postmortem", params={"format": "markdown"})
    assert text.headers["content-type"].startswith("text/markdown")
    assert text.text == markdown


def test_a_thin_record_says_what_is_missing(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident = open_incident(container, "Something odd", Severity.SEV3)
    api.patch(f"/v1/incidents/{incident.id}", json={"status": "resolved"})
    analyst = container.agents.analyst
    assert analyst is not None
    assert draft_missing(container.uow, container.clock, analyst) == 1
    draft = api.get(f"/v1/incidents/{incident.id}/postmortem").json()["draft"]
    assert draft["root_cause"] is None
    assert "no hypothesis: the root cause and its 5 whys need the meeting" in draft["missing"]
    assert "no mitigation is recorded" in draft["missing"]
    assert "no alerts are linked to the incident" in draft["missing"]
    gaps = [w["gap"] for w in draft["whys"] if w["gap"]]
    assert len(gaps) == 4 and "no hypothesis in the record explains it" in gaps
    assert "The record does not establish a root cause." in draft["summary"]
    assert draft_missing(container.uow, container.clock, analyst) == 0
    fish = api.post(
        "/v1/orchestrate",
        json={
            "agent": "postmortem-analyst",
            "inputs": {"incident_id": incident.id, "analysis_method": "fishbone"},
        },
    ).json()
    assert "## Contributing causes (fishbone)" in fish["output"]["markdown"]
    bad = api.post(
        "/v1/orchestrate",
        json={
            "agent": "postmortem-analyst",
            "inputs": {"incident_id": incident.id, "analysis_method": "vibes"},
        },
    )
    assert bad.status_code == 422 and "analysis_method" in bad.text


def test_review_publish_and_the_meeting(
    api: TestClient,
    container: Container,
    clock: FixedClock,
    railway: RailwayState,
    tmp_path: Path,
) -> None:
    incident_id = worked_example(api, container, clock)
    api.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident_id}},
    )
    content = tmp_path / "so1-content"
    content.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=content, check=True)
    subprocess.run(["git", "config", "user.email", "so1@example.com"], cwd=content, check=True)
    subprocess.run(["git", "config", "user.name", "SO1"], cwd=content, check=True)
    container.adapters.postmortems = MarkdownDirectory(content, commit=True)
    base = f"/v1/incidents/{incident_id}/postmortem"

    api.post(f"{base}/comments", json={"text": "the trigger was the bulk feature launch"})
    original = api.get(base).json()["markdown"]
    edited = api.post(
        f"{base}/edits", json={"markdown": original + "\nEdited.\n", "note": "added a line"}
    ).json()
    assert edited["version"] == 2
    assert edited["review"]["revisions"][0]["markdown"] == original
    assert edited["review"]["comments"][0]["text"] == "the trigger was the bulk feature launch"
    early = api.post(f"{base}/publish")
    assert early.status_code == 409 and "in review" in early.text
    assert api.post(f"{base}/submit").json()["status"] == "in_review"
    unticked = api.post(f"{base}/publish")
    assert unticked.status_code == 409 and "Timeline accuracy" in unticked.text
    reviewer = make_key(container, Scope.WRITE, name="reviewer")
    second = {"Authorization": f"Bearer {reviewer}"}
    for check in ("timeline_accurate", "root_cause_validated", "action_items_complete"):
        assert api.post(f"{base}/checks/{check}", headers=second).status_code == 200
    assert api.post(f"{base}/checks/vibes").status_code == 422
    declare = {"agent": "incident-commander", "inputs": {"incident_id": incident_id}}
    assert api.post("/v1/orchestrate", json=declare).status_code == 200  # a war room to archive
    published = api.post(f"{base}/publish")
    assert published.status_code == 200, published.text
    found = published.json()
    assert found["status"] == "published"
    path = Path(found["review"]["published_to"])
    assert path.parent == content / "postmortems"
    assert path.name.endswith("-api-error-rate-spike.md")
    assert path.read_text() == found["markdown"]
    assert "Edited." in found["markdown"] and "Blameless draft" not in found["markdown"]
    assert found["review"]["reviewers"] == ["reviewer"]
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=content, check=True, capture_output=True, text=True
    ).stdout
    assert f"Postmortem: {incident_id} - API error rate spike" in log
    said = api.get(f"/v1/incidents/{incident_id}/messages").json()
    [last] = [m for m in said if m["kind"] == "archive"]  # SO1_WAR_ROOM_ARCHIVE=on_publish
    assert last["to"] == "war_room" and str(path) in last["text"] and "archived" in last["text"]
    assert api.post(f"{base}/edits", json={"markdown": "x"}).status_code == 409
    with container.uow(read_only=True) as uow:
        items = uow.action_items.search(incident_id=incident_id)
    assert [(i.title[:19], i.owner, i.status) for i in items] == [
        ("Add pool monitoring", "eng-lead", "open"),
        ("Load test bulk feat", "eng-lead", "open"),
    ]

    def states() -> dict[str, str]:
        found = api.get(f"/v1/incidents/{incident_id}/runbook").json()
        checks = found["checks"] if isinstance(found, dict) else found
        return {c["id"]: c["state"] for c in checks}

    phase5 = states()
    assert phase5["postmortem_published"] == "done"
    assert phase5["root_cause_identified"] == "done"  # 90%: confirmed by the gates
    assert phase5["action_items_owned"] == "done"
    assert phase5["learnings_incorporated"] == "pending"
    linked = api.post(
        f"{base}/learnings",
        json={"summary": "pool alert added to runbook", "reference": "so1-content@4f2a1c9"},
    )
    assert linked.status_code == 204
    assert states()["learnings_incorporated"] == "done"

    invite = api.get(f"{base}/meeting.ics")
    assert invite.headers["content-type"].startswith("text/calendar")
    event = next(c for c in Calendar.from_ical(invite.content).walk("VEVENT"))
    assert str(event["summary"]) == f"Postmortem: {incident_id} - API Error Rate Spike"
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    resolved = get_incident(container.uow, incident_id, SYSTEM).resolved_at
    assert resolved is not None
    assert start - resolved >= timedelta(hours=24)
    local = start.astimezone(ZoneInfo("Europe/Berlin"))  # the owning team's schedules
    assert local.weekday() < 5 and 10 <= local.hour <= 15
    assert end - start == timedelta(minutes=60)
    attendees = [
        str(a)
        for a in (
            event.get("attendee")
            if isinstance(event.get("attendee"), list)
            else [event.get("attendee")]
        )
    ]
    assert "mailto:eli@example.com" in attendees  # the owning team's lead


def test_the_first_draft_tells_the_room_when_the_review_is(
    api: TestClient, container: Container
) -> None:
    incident = open_incident(container, "Checkout down", Severity.SEV2)
    api.patch(f"/v1/incidents/{incident.id}", json={"channel": "#incident-x"})
    api.patch(f"/v1/incidents/{incident.id}", json={"status": "resolved"})
    analyst = container.agents.analyst
    assert analyst is not None
    assert draft_missing(container.uow, container.clock, analyst) == 1
    said = [
        m
        for m in api.get(f"/v1/incidents/{incident.id}/messages").json()
        if m["kind"] == "postmortem_meeting"
    ]
    assert len(said) == 1 and "Tuesday 2024-01-16 15:00 UTC, 60 min" in said[0]["text"]
    api.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident.id}},
    )
    again = [
        m
        for m in api.get(f"/v1/incidents/{incident.id}/messages").json()
        if m["kind"] == "postmortem_meeting"
    ]
    assert len(again) == 1  # only with the first draft
