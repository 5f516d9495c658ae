"""Action items tracked to done: filters, overdue, changes, CSV export, daily reminders."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.services.postmortem.action_items import remind_overdue
from tests.conftest import open_incident
from tests.e2e.conftest import Cli


def seed_items(container: Container) -> tuple[str, list[int]]:
    incident = open_incident(container, "API error rate spike", Severity.SEV2)
    today = container.clock.now().date()
    rows = [
        ("Add pool monitoring", "eng-lead", today - timedelta(days=2), "P1"),
        ("Load test bulk features", "eng-lead", today + timedelta(days=20), "P2"),
        ("Document the pool size", "bo", today - timedelta(days=1), "P3"),
    ]
    with container.uow() as uow:
        ids = [
            uow.action_items.add(incident.id, t, o, d, p, container.clock.now())
            for t, o, d, p in rows
        ]
        uow.commit()
    return incident.id, ids


def test_filters_changes_and_csv(api: TestClient, container: Container) -> None:
    incident_id, ids = seed_items(container)
    mine = api.get("/v1/action-items", params={"owner": "eng-lead"}).json()
    assert [i["title"] for i in mine] == ["Add pool monitoring", "Load test bulk features"]
    overdue = api.get("/v1/action-items", params={"overdue": "true"}).json()
    assert {i["id"] for i in overdue} == {ids[0], ids[2]} and all(i["overdue"] for i in overdue)
    done = api.patch(f"/v1/action-items/{ids[0]}", json={"status": "done"}).json()
    assert done["status"] == "done" and done["overdue"] is False
    assert len(api.get("/v1/action-items", params={"overdue": "true"}).json()) == 1
    moved = api.patch(f"/v1/action-items/{ids[2]}", json={"owner": "cy", "due_date": "2030-01-01"})
    assert moved.json()["owner"] == "cy"
    assert api.patch(f"/v1/action-items/{ids[2]}", json={"status": "maybe"}).status_code == 422
    assert api.patch("/v1/action-items/99999", json={"status": "done"}).status_code == 404
    exported = api.get("/v1/action-items", params={"format": "csv", "incident_id": incident_id})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert (rows[0]["title"], rows[0]["status"]) == ("Add pool monitoring", "done")
    assert {r["incident_id"] for r in rows} == {incident_id}
    events = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    assert sum(e["kind"] == "action_item.updated" for e in events) == 2


def test_overdue_items_are_reminded_once_a_day(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident_id, _ = seed_items(container)
    assert remind_overdue(container.uow, container.clock) == 2
    assert remind_overdue(container.uow, container.clock) == 0
    clock.advance(timedelta(days=1))
    assert remind_overdue(container.uow, container.clock) == 2
    said = [
        m
        for m in api.get(f"/v1/incidents/{incident_id}/messages").json()
        if m["kind"] == "reminder"
    ]
    assert len(said) == 4
    assert "Overdue action item" in said[0]["text"] and "@eng-lead" in said[0]["text"]


def test_the_cli(server_cli: Cli, container: Container) -> None:
    _, ids = seed_items(container)
    assert "Action items" in server_cli("actions", "list", "--overdue").assert_ok().stdout
    listed = json.loads(server_cli("actions", "list", "--overdue", "--json").assert_ok().stdout)
    assert [i["title"] for i in listed] == ["Add pool monitoring", "Document the pool size"]
    exported = server_cli("actions", "list", "--csv").assert_ok().stdout
    assert exported.startswith("id,incident_id,title")
    assert (
        server_cli("actions", "done", str(ids[1]))
        .assert_ok()
        .last_line.endswith("Load test bulk features")
    )
