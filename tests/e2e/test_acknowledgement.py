"""Acknowledgement is a fact (issue 15, item 3): only an acknowledgement (API, CLI, web, an
alert's acknowledgement by a person or an integration) sets ``acknowledged_at``, with who and
through what; resolving or declaring does not; MTTA counts only acknowledged incidents; the
postmortem reports a missing acknowledgement as missed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import text

from so1.adapters.clock import FixedClock
from so1.adapters.db import migrate
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.alerts import AlertSource
from tests.conftest import make_key
from tests.contract import payload
from tests.e2e.conftest import Cli
from tests.e2e.intake_support import SEED_ALERT, run_pipeline
from tests.e2e.test_web_pages import CSRF, FORM, sign_in
from tests.e2e.test_webhooks import PD_SECRET, add, pd_headers


def declare(api: TestClient, title: str, severity: str = "SEV2") -> dict[str, Any]:
    made = api.post("/v1/incidents", json={"title": title, "severity": severity})
    assert made.status_code == 201, made.text
    return dict(made.json())


def move(api: TestClient, incident_id: str, *statuses: str) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for status in statuses:
        moved = api.patch(f"/v1/incidents/{incident_id}", json={"status": status})
        assert moved.status_code == 200, moved.text
        answer = moved.json()
    return answer


def acknowledgements(api: TestClient, incident_id: str) -> list[dict[str, Any]]:
    timeline = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    return [e for e in timeline if e["kind"] == "incident.acknowledged"]


def test_resolving_without_an_acknowledgement_leaves_it_null_and_mtta_excludes_it(
    api: TestClient, clock: FixedClock
) -> None:
    start = clock.now()
    never = declare(api, "Nobody answered")
    clock.advance(timedelta(minutes=7))
    resolved = move(api, never["id"], "investigating", "monitoring", "resolved")
    assert resolved["status"] == "resolved"
    assert resolved["acknowledged_at"] is None
    assert (resolved["acknowledged_by"], resolved["acknowledged_via"]) == (None, None)
    assert acknowledgements(api, never["id"]) == []

    clock.set(start)
    answered = declare(api, "Someone answered")
    clock.advance(timedelta(minutes=4))
    assert api.post(f"/v1/incidents/{answered['id']}/acknowledge").status_code == 200
    clock.advance(timedelta(minutes=3))
    assert move(api, answered["id"], "resolved")["acknowledged_at"] is not None

    window = {"since": (start - timedelta(hours=1)).isoformat()}
    found = api.get("/v1/analytics", params=window).json()
    assert found["incidents"] == 2
    assert found["mtta"] == {
        "mean_minutes": 4.0,
        "median_minutes": 4.0,
        "count": 1,
        "unacknowledged": 1,
    }
    assert found["by_month"][0]["mtta"]["unacknowledged"] == 1


def test_acknowledging_records_who_when_and_through_what(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident = declare(api, "Checkout down", "SEV1")
    clock.advance(timedelta(seconds=45))
    alice = TestClient(api.app, headers={"Authorization": f"Bearer {_key(container, 'alice')}"})
    acked = alice.post(f"/v1/incidents/{incident['id']}/acknowledge")
    assert acked.status_code == 200, acked.text
    done = acked.json()
    assert done["incident_id"] == incident["id"]
    assert (done["acknowledged_by"], done["acknowledged_via"]) == ("alice", "api")
    assert done["acknowledged_at"].startswith(clock.now().isoformat()[:19])

    clock.advance(timedelta(minutes=1))
    again = api.post(f"/v1/incidents/{incident['id']}/acknowledge", json={"via": "cli"})
    assert again.json() == done  # the first acknowledgement stays
    stored = api.get(f"/v1/incidents/{incident['id']}").json()
    assert (stored["acknowledged_by"], stored["acknowledged_via"]) == ("alice", "api")
    assert stored["acknowledged_at"] == done["acknowledged_at"]
    [event] = acknowledgements(api, incident["id"])
    assert event["actor"] == "alice" and "alice acknowledged via api (45 s" in event["summary"]
    assert event["data"]["by"] == "alice" and event["data"]["via"] == "api"
    assert event["data"]["within_target"] is True


def test_acknowledging_refuses_a_channel_it_does_not_know(api: TestClient) -> None:
    incident = declare(api, "Checkout down")
    refused = api.post(f"/v1/incidents/{incident['id']}/acknowledge", json={"via": "carrier"})
    assert refused.status_code == 422 and "via" in refused.text
    unknown = api.post(f"/v1/incidents/{incident['id']}/acknowledge", json={"by": "someone"})
    assert unknown.status_code == 422 and "by" in unknown.text
    assert api.get(f"/v1/incidents/{incident['id']}").json()["acknowledged_at"] is None
    missing = api.post("/v1/incidents/INC-20240101-9999/acknowledge")
    assert missing.status_code == 404


def test_the_cli_acknowledges_through_the_cli(api: TestClient, server_cli: Cli) -> None:
    incident = declare(api, "Checkout down")
    said = server_cli("incident", "ack", incident["id"]).assert_ok().stdout
    assert "by admin via cli" in said
    stored = api.get(f"/v1/incidents/{incident['id']}").json()
    assert (stored["acknowledged_by"], stored["acknowledged_via"]) == ("admin", "cli")


def test_declaring_from_the_web_is_not_an_acknowledgement_until_the_button(
    api: TestClient, container: Container, admin_token: str, clock: FixedClock
) -> None:
    client = sign_in(container, admin_token)
    token = CSRF.search(client.get("/").text)
    assert token is not None
    csrf = token.group(1)
    fields = {"title": "Checkout down", "severity": "SEV2", "csrf": csrf}
    where = client.post("/incidents", content=urlencode(fields), headers=FORM)
    assert where.status_code == 303, where.text
    incident_id = str(where.headers["location"]).rsplit("/", 1)[1]
    declared = api.get(f"/v1/incidents/{incident_id}").json()
    assert declared["status"] == "investigating" and declared["declared_at"] is not None
    assert declared["acknowledged_at"] is None
    assert acknowledgements(api, incident_id) == []
    page = client.get(f"/incidents/{incident_id}").text
    assert "Not acknowledged" in page and f'action="/incidents/{incident_id}/acknowledge"' in page

    forged = client.post(
        f"/incidents/{incident_id}/acknowledge", content="csrf=wrong", headers=FORM
    )
    assert forged.status_code in (400, 403)
    assert api.get(f"/v1/incidents/{incident_id}").json()["acknowledged_at"] is None
    pressed = client.post(
        f"/incidents/{incident_id}/acknowledge", content=urlencode({"csrf": csrf}), headers=FORM
    )
    assert pressed.status_code == 303
    acked = api.get(f"/v1/incidents/{incident_id}").json()
    assert acked["acknowledged_at"] is not None
    assert (acked["acknowledged_by"], acked["acknowledged_via"]) == ("admin", "web")
    shown = client.get(f"/incidents/{incident_id}").text
    assert "by admin via web" in shown and "Not acknowledged" not in shown

    clock.advance(timedelta(minutes=1))  # the page counts incidents detected before now
    analytics = client.get("/analytics").text
    assert '<span id="mtta-acknowledged">1</span>' in analytics
    assert '<span id="mtta-unacknowledged">0</span>' in analytics


def test_an_integrations_acknowledgement_acknowledges_the_incident(
    alerts_api: TestClient, container: Container
) -> None:
    assert alerts_api.post("/v1/alerts", json=SEED_ALERT).status_code == 202
    assert run_pipeline(container) == 1
    [alert] = alerts_api.get("/v1/alerts").json()["items"]
    incident_id = alert["incident_id"]
    assert incident_id is not None
    assert alerts_api.get(f"/v1/incidents/{incident_id}").json()["acknowledged_at"] is None

    said = {"event_action": "acknowledge", "dedup_key": "pd-alert-123", "source": "pagerduty"}
    assert alerts_api.post("/v1/alerts", json=said).status_code == 202
    acked = alerts_api.get(f"/v1/incidents/{incident_id}").json()
    assert acked["acknowledged_at"] is not None
    assert (acked["acknowledged_by"], acked["acknowledged_via"]) == ("events", "integration")
    [event] = acknowledgements(alerts_api, incident_id)
    assert event["data"]["via"] == "integration"


def test_a_pagerduty_acknowledgement_names_who_acknowledged(
    alerts_api: TestClient, container: Container
) -> None:
    add(container, AlertSource.PAGERDUTY, PD_SECRET)
    for n, name in enumerate(["01-incident-triggered.json", "02-incident-acknowledged.json"]):
        answer = alerts_api.post(
            "/v1/webhooks/pagerduty",
            content=payload(f"pagerduty-webhooks-v3/{name}"),
            headers=pd_headers(name, f"wh-{n}"),
        )
        assert answer.status_code == 202, answer.text
        if n == 0:
            assert run_pipeline(container) == 1
    [alert] = alerts_api.get("/v1/alerts").json()["items"]
    acked = alerts_api.get(f"/v1/incidents/{alert['incident_id']}").json()
    assert acked["acknowledged_at"] is not None
    assert (acked["acknowledged_by"], acked["acknowledged_via"]) == ("Ben", "pagerduty")
    pager = alerts_api.get(f"/v1/incidents/{alert['incident_id']}/messages?to=pager").json()
    assert "page_acknowledge" not in [m["kind"] for m in pager]  # PagerDuty knows already


def test_a_person_acknowledging_the_alert_acknowledges_the_incident(
    alerts_api: TestClient, container: Container
) -> None:
    alerts_api.post("/v1/alerts", json=SEED_ALERT | {"source": "datadog"})
    run_pipeline(container)
    [alert] = alerts_api.get("/v1/alerts").json()["items"]
    assert alerts_api.post(f"/v1/alerts/{alert['id']}/acknowledge").status_code == 200
    acked = alerts_api.get(f"/v1/incidents/{alert['incident_id']}").json()
    assert (acked["acknowledged_by"], acked["acknowledged_via"]) == ("admin", "api")


def test_the_postmortem_reports_a_missing_acknowledgement_as_missed(
    api: TestClient, clock: FixedClock
) -> None:
    never = declare(api, "Nobody answered")
    clock.advance(timedelta(minutes=10))
    move(api, never["id"], "investigating", "monitoring", "resolved")
    missed = _draft(api, never["id"])
    assert missed["draft"]["key_times"]["acknowledged"] is None
    assert "acknowledgement missed: nobody acknowledged the incident" in missed["draft"]["missing"]
    assert not [line for line in missed["draft"]["went_well"] if "acknowledged" in line]
    assert not [line for line in missed["draft"]["lucky"] if "acknowledged" in line]
    assert "| Acknowledged | missed: nobody acknowledged |" in missed["markdown"]
    assert "Time to acknowledge: missed (never acknowledged)" in missed["markdown"]
    assert "- Alert acknowledged (due" in missed["markdown"]  # listed among the late checks
    assert "Alert acknowledged: done" not in missed["markdown"]

    answered = declare(api, "Someone answered")
    clock.advance(timedelta(seconds=20))
    api.post(f"/v1/incidents/{answered['id']}/acknowledge")
    clock.advance(timedelta(minutes=10))
    move(api, answered["id"], "resolved")
    kept = _draft(api, answered["id"])
    well = kept["draft"]["went_well"]  # each claim cites the act behind it
    assert any(line.startswith("Alert acknowledged: done with 100 s to spare (") for line in well)
    assert "missed: nobody acknowledged" not in kept["markdown"]


def _draft(api: TestClient, incident_id: str) -> dict[str, Any]:
    run = api.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident_id}},
    )
    assert run.status_code == 200, run.text
    output: dict[str, Any] = run.json()["output"]
    return {"draft": api.get(f"/v1/incidents/{incident_id}/postmortem").json()["draft"]} | output


def _key(container: Container, name: str) -> str:
    return make_key(container, Scope.WRITE, Scope.READ, name=name)


def test_the_migration_keeps_proven_acknowledgements_and_clears_invented_ones(
    alerts_api: TestClient, container: Container, clock: FixedClock, db_url: str
) -> None:
    """Before 0012 every status change stamped ``acknowledged_at``: the backfill keeps what an
    acknowledgement event or an acknowledged alert proves and clears the rest."""
    by_person = declare(alerts_api, "Acknowledged by a person")
    alerts_api.post(f"/v1/incidents/{by_person['id']}/acknowledge")
    invented = declare(alerts_api, "Stamped by a status change")
    alerts_api.post("/v1/alerts", json=SEED_ALERT | {"source": "datadog"})
    run_pipeline(container)
    [alert] = alerts_api.get("/v1/alerts").json()["items"]
    alerts_api.post(f"/v1/alerts/{alert['id']}/acknowledge")
    stamped = clock.now().isoformat()
    assert migrate.head_revision() == LAST_COVERED, "add the new migration to AFTER_0011"
    container.engine.dispose()
    migrate.downgrade(container.engine, STEPPED_BACK)  # 0016 undone by its own downgrade
    with container.engine.begin() as conn:  # the database as 0011 left it: a stamp, no fact
        conn.execute(
            text("UPDATE incidents SET acknowledged_at = :at WHERE id = :id"),
            {"at": clock.now(), "id": invented["id"]},
        )
        # what the migrations 0012-0015 add, so that upgrading runs them all again
        for table, column in AFTER_0011:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE oidc_sign_ins"))  # 0015
        conn.execute(text("UPDATE alembic_version SET version_num = '0011'"))
    container.engine.dispose()
    migrate.upgrade(container.engine)
    container.engine.dispose()

    def facts(incident_id: str) -> tuple[str | None, str | None]:
        found = alerts_api.get(f"/v1/incidents/{incident_id}").json()
        return found["acknowledged_at"], found["acknowledged_by"]

    assert facts(by_person["id"]) == (_iso(stamped), "admin")
    assert facts(invented["id"]) == (None, None)
    assert facts(alert["incident_id"])[0] is not None  # the alert's acknowledgement proves it


LAST_COVERED = "0016_weekly_partitions"
STEPPED_BACK = "0015_sso_sessions"  # the migrations after it are undone by their downgrade
AFTER_0011 = (
    ("incidents", "acknowledged_by"),  # 0012
    ("incidents", "acknowledged_via"),
    ("incidents", "customer_summary"),  # 0013
    ("people", "role"),  # 0014
    ("people", "disabled_at"),
    ("web_sessions", "person"),  # 0015 (and the table oidc_sign_ins)
)


def _iso(at: str) -> str:
    return at.replace("+00:00", "Z")
