"""One incident walked off the demo's path (issue 15, item 9), with the background work
running as in production: an alert, declared by triage; a second declare; a second alert on
the same service, which joins; the severity raised to SEV1 with a reason; another declare;
an acknowledgement by a person; a mitigation; resolution; a postmortem published after a
second reader's review. Every outbox message is counted: none is sent twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.adapters.publishing.markdown_dir import MarkdownDirectory
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.entrypoints.api.app import create_app
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor
from tests.contract.railway_server import RailwayState
from tests.e2e.deployer_support import SERVICE, finished
from tests.e2e.intake_support import SEED_ALERT
from tests.e2e.test_api_oncall import example

WEDNESDAY = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # backend-primary: oncall-backend (Ana)
CHECKS = ("timeline_accurate", "root_cause_validated", "action_items_complete")


def eventually(what: str, found: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def key_for(container: Container, name: str, person: str, *scopes: Scope) -> dict[str, str]:
    issued = access.create_key(
        container.uow, container.clock, Actor("t"), name, frozenset(scopes), person=person
    )
    return {"Authorization": f"Bearer {issued.token}"}


def outbox(api: TestClient, incident_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/v1/incidents/{incident_id}/messages").json()
    return found


def declare(api: TestClient, incident_id: str) -> dict[str, Any]:
    inputs = {"incident_id": incident_id}
    answer = api.post("/v1/orchestrate", json={"agent": "incident-commander", "inputs": inputs})
    assert answer.status_code == 200, answer.text
    run: dict[str, Any] = answer.json()
    return run


def test_an_incident_off_the_happy_path_sends_nothing_twice(
    container: Container,
    admin_token: str,
    clock: FixedClock,
    railway: RailwayState,
    tmp_path: Path,
) -> None:
    clock.set(WEDNESDAY)
    container.adapters.postmortems = MarkdownDirectory(tmp_path / "published")
    write = (Scope.READ, Scope.WRITE)
    with TestClient(create_app(container), raise_server_exceptions=False) as api:
        api.headers["Authorization"] = f"Bearer {admin_token}"
        assert api.put("/v1/oncall/config", json=example()).status_code == 200
        # personal keys name people, so they are issued once the directory holds them
        ana = key_for(container, "ana-laptop", "oncall-backend", *write)
        bo = key_for(container, "bo-laptop", "bo", *write, Scope.DEPLOY)

        # 1. the alert: triage opens and declares the incident
        first = api.post("/v1/alerts", json=SEED_ALERT).json()["alert_id"]
        incident_id = eventually(
            "triage to open the incident",
            lambda: api.get(f"/v1/alerts/{first}").json()["incident_id"],
        )
        eventually("the declaration", lambda: api.get(f"/v1/incidents/{incident_id}").json()[
            "declared_at"
        ])  # fmt: skip
        declared = len(outbox(api, incident_id))

        # 2. a second declare sends nothing
        again = declare(api, incident_id)
        assert again["already_declared"] is True
        assert len(outbox(api, incident_id)) == declared

        # 3. a second alert on the same service joins the incident
        second_alert = SEED_ALERT | {"dedup_key": "pd-alert-124", "summary": "API p99 2.1 s"}
        second = api.post("/v1/alerts", json=second_alert).json()["alert_id"]
        eventually(
            "the second alert to join",
            lambda: api.get(f"/v1/alerts/{second}").json()["incident_id"] == incident_id,
        )
        assert [i["id"] for i in api.get("/v1/incidents").json()["items"]] == [incident_id]

        # 4. raised to SEV1, with a reason (refused without one)
        bare = api.patch(f"/v1/incidents/{incident_id}", json={"severity": "SEV1"})
        assert bare.status_code == 422
        raise_to = {"severity": "SEV1", "severity_reason": "checkout fails for every customer"}
        assert api.patch(f"/v1/incidents/{incident_id}", json=raise_to).status_code == 200
        assert declare(api, incident_id)["already_declared"] is True  # 5. and again

        # 6. a person acknowledges
        acked = api.post(f"/v1/incidents/{incident_id}/acknowledge", headers=ana).json()
        assert acked["acknowledged_by"] == "oncall-backend"

        # 7. the runbook's fix, approved by someone else at SEV1 when the policy asks
        fix = {"action": "set_variables", "service": SERVICE, "incident_id": incident_id}
        fix["variables"] = {"DATABASE_POOL_SIZE": "50"}
        run = api.post("/v1/orchestrate", json={"agent": "railway-deployer", "inputs": fix})
        assert run.status_code == 200, run.text
        run_id = run.json()["run_id"]
        if run.json()["status"] == "awaiting_approval":
            approved = api.post(f"/v1/orchestrate/runs/{run_id}/approve", headers=bo)
            assert approved.status_code == 200, approved.text
        assert finished(api, run_id)["status"] == "completed"

        # 8. resolved; the analyst drafts; bo reviews; the admin publishes
        resolve = {"status": "resolved", "resolution_summary": "pool raised to 50"}
        assert api.patch(f"/v1/incidents/{incident_id}", json=resolve).status_code == 200
        base = f"/v1/incidents/{incident_id}/postmortem"
        eventually("the draft", lambda: api.get(base).status_code == 200)
        assert api.post(f"{base}/submit").status_code == 200
        for check in CHECKS:
            assert api.post(f"{base}/checks/{check}").status_code == 200
        alone = api.post(f"{base}/publish")
        assert alone.status_code == 409, alone.text  # the publisher is not a second reader
        for check in CHECKS:
            assert api.post(f"{base}/checks/{check}", headers=bo).status_code == 200
        published = api.post(f"{base}/publish")
        assert published.status_code == 200, published.text

        # every message delivered, none twice
        said = eventually(
            "every message delivered",
            lambda: (
                (found := outbox(api, incident_id))
                and all(m["status"] in ("sent", "dead") for m in found)
                and found
            ),
        )
    assert all(m["status"] == "sent" for m in said), [m for m in said if m["status"] != "sent"]
    copies = Counter((m["to"], m["kind"], m["target"], m["text"]) for m in said)
    assert [k for k, n in copies.items() if n > 1] == []
    kinds = Counter((m["to"], m["kind"]) for m in said)
    assert kinds[("war_room", "declared")] == 1
    assert kinds[("war_room", "severity_changed")] == 1
    public = [m for m in said if m["to"] == "status_page"]
    assert len([m for m in public if m["kind"] != "resolved"]) == 1, public
    pages = Counter(m["target"] for m in said if m["to"] == "pager" and m["kind"] == "page")
    assert pages and max(pages.values()) == 1, pages
