"""A new alert on a service (or its dependency chain) with an open incident joins that
incident however long it has been open; triage still runs, its proposal is kept, and a sure,
worse reading raises the severity (with a reason); a new
incident opens only when the old one is resolved or triage finds an unrelated cause, and
the rationale says which (issue 15, item 4)."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.agents.triage import TriageInput, TriageReport
from so1.agents.triage.contract import Hypothesis
from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.domain.triage import TriageStatus
from so1.services.triage.context import MAX_RELATED
from so1.services.triage.flow import process_pending
from so1.services.triage.joining import JOIN_TRIAGE_EVERY, JoinTriageMemo
from tests.e2e.intake_support import SEED_ALERT, ScriptedTriage, run_pipeline
from tests.e2e.test_web_pages import sign_in

LONG_AFTER = timedelta(minutes=45)  # well past the correlation window (10 minutes)


class CausesByMetric(ScriptedTriage):
    """The scripted triage, with a SEV1 for ``outage`` and another cause for ``disk_full``."""

    def run(self, inputs: TriageInput) -> TriageReport:
        report = super().run(inputs)
        metric = inputs.alert.metric
        if metric == "outage":
            return replace(report, severity=Severity.SEV1)
        if metric == "outage_maybe":  # the same proposal, not sure enough to act on
            unsure = TriageStatus.INVESTIGATION_REQUIRED
            return replace(report, severity=Severity.SEV1, confidence=0.5, status=unsure)
        if metric == "disk_full":
            disk = Hypothesis("disk_full", 0.9, ("volume at 100%",), ("free space",))
            return replace(report, hypotheses=(disk,), confidence=0.9)
        return report


@pytest.fixture
def triage() -> CausesByMetric:
    return CausesByMetric()


def alert(api: TestClient, key: str, **fields: Any) -> str:
    response = api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": key, **fields})
    assert response.status_code == 202, response.text
    alert_id: str = response.json()["alert_id"]
    return alert_id


def incidents(api: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/incidents").json()["items"]
    return items


def events(api: TestClient, incident_id: str, kind: str) -> list[dict[str, Any]]:
    timeline = api.get(f"/v1/incidents/{incident_id}/timeline").json()["events"]
    return [e for e in timeline if e["kind"] == kind]


def first_incident(api: TestClient, container: Container) -> str:
    alert(api, "first")
    run_pipeline(container)
    (only,) = incidents(api)
    incident_id: str = only["id"]
    return incident_id


def test_second_alert_on_the_service_joins_the_open_incident(
    alerts_api: TestClient, container: Container, clock: FixedClock, triage: CausesByMetric
) -> None:
    incident_id = first_incident(alerts_api, container)
    opened = events(alerts_api, incident_id, "triage.report")[0]["data"]["rationale"]
    assert any(r.startswith("opened new because no incident is open") for r in opened)
    clock.advance(LONG_AFTER)
    second = alert(alerts_api, "second", metric="outage", summary="API 5xx at 40%")
    assert run_pipeline(container) == 1
    assert len(incidents(alerts_api)) == 1  # no second incident
    assert len(triage.seen) == 2  # triage still ran on the joining alert
    shown = alerts_api.get(f"/v1/incidents/{incident_id}").json()
    assert shown["alert_count"] == 2
    assert second in [a["id"] for a in shown["alerts"]]
    assert alerts_api.get(f"/v1/alerts/{second}").json()["incident_id"] == incident_id
    (joined,) = events(alerts_api, incident_id, "alert.correlated")
    assert joined["data"]["rationale"].startswith(f"joined {incident_id}: open on control-plane")
    assert joined["data"]["triage"]["severity"] == "SEV1"
    assert "triage raises to SEV1 (was SEV2)" in joined["summary"]
    assert shown["severity"] == "SEV1"  # a confident, worse reading raises the incident
    (raised,) = events(alerts_api, incident_id, "severity.changed")
    assert raised["data"]["reason"].startswith(f"triage of the joining alert {second}")


def test_an_unsure_proposal_to_raise_is_only_recorded(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident_id = first_incident(alerts_api, container)
    clock.advance(LONG_AFTER)
    alert(alerts_api, "second", metric="outage_maybe", summary="API 5xx at 40%?")
    assert run_pipeline(container) == 1
    (joined,) = events(alerts_api, incident_id, "alert.correlated")
    assert "triage proposes SEV1 (incident is SEV2)" in joined["summary"]
    assert "a person may, with a reason" in joined["summary"]
    assert alerts_api.get(f"/v1/incidents/{incident_id}").json()["severity"] == "SEV2"
    assert events(alerts_api, incident_id, "severity.changed") == []


def test_an_incident_declared_by_a_person_takes_the_alerts_of_its_service(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    body = {"title": "Control plane slow", "severity": "SEV1", "service": "control-plane-api"}
    created = alerts_api.post("/v1/incidents", json=body)
    assert created.status_code == 201, created.text
    clock.advance(LONG_AFTER)
    joining = alert(alerts_api, "later")
    run_pipeline(container)
    assert [i["id"] for i in incidents(alerts_api)] == [created.json()["id"]]
    shown = alerts_api.get(f"/v1/incidents/{created.json()['id']}").json()
    assert [a["id"] for a in shown["alerts"]] == [joining]


def test_an_alert_on_a_dependency_joins(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    alerts_api.put("/v1/services/postgres", json={"tier": "critical"})
    deps = {"tier": "critical", "dependencies": ["postgres"]}
    alerts_api.put("/v1/services/control-plane-api", json=deps)
    incident_id = first_incident(alerts_api, container)
    clock.advance(LONG_AFTER)
    on_db = alert(alerts_api, "db", service="postgres", summary="postgres connections 100%")
    alerts_api.post("/v1/alerts", json={**SEED_ALERT, "dedup_key": "x", "service": "billing"})
    run_pipeline(container)
    assert alerts_api.get(f"/v1/alerts/{on_db}").json()["incident_id"] == incident_id
    assert len(incidents(alerts_api)) == 2  # billing is connected to nothing: its own incident
    joined = events(alerts_api, incident_id, "alert.correlated")
    assert "(postgres)" in joined[0]["summary"]


def test_after_resolve_a_new_incident_is_opened(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident_id = first_incident(alerts_api, container)
    resolve = {"status": "resolved", "resolution_summary": "pool raised"}
    for status in ("investigating", "mitigating"):
        assert alerts_api.patch(f"/v1/incidents/{incident_id}", json={"status": status}).is_success
    assert alerts_api.patch(f"/v1/incidents/{incident_id}", json=resolve).status_code == 200
    clock.advance(timedelta(minutes=2))
    again = alert(alerts_api, "again")
    run_pipeline(container)
    found = {i["id"] for i in incidents(alerts_api)}
    assert len(found) == 2
    (new_id,) = found - {incident_id}
    assert alerts_api.get(f"/v1/alerts/{again}").json()["incident_id"] == new_id
    rationale = events(alerts_api, new_id, "triage.report")[0]["data"]["rationale"]
    why = "opened new because no incident is open on control-plane-api"
    assert any(why in r for r in rationale)


def test_an_unrelated_cause_opens_its_own_incident_and_says_why(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    incident_id = first_incident(alerts_api, container)
    clock.advance(LONG_AFTER)
    disk = alert(alerts_api, "disk", metric="disk_full", summary="disk full on api nodes")
    run_pipeline(container)
    assert len(incidents(alerts_api)) == 2
    new_id = alerts_api.get(f"/v1/alerts/{disk}").json()["incident_id"]
    assert new_id not in (None, incident_id)
    rationale = events(alerts_api, new_id, "triage.report")[0]["data"]["rationale"]
    why = next(r for r in rationale if r.startswith("opened new because"))
    assert "unrelated cause: disk_full" in why
    assert incident_id in why


def test_a_storm_on_an_open_incident_is_triaged_once_per_pass(
    alerts_api: TestClient, container: Container, clock: FixedClock, triage: CausesByMetric
) -> None:
    incident_id = first_incident(alerts_api, container)
    clock.advance(LONG_AFTER)
    for n in range(5):
        alert(alerts_api, f"more-{n}", summary=f"symptom {n}")
    run_pipeline(container)
    assert len(triage.seen) == 2  # the first alert, then one for the five that joined
    assert alerts_api.get(f"/v1/incidents/{incident_id}").json()["alert_count"] == 6
    assert len(incidents(alerts_api)) == 1


def test_the_incident_page_lists_the_attached_alerts(
    alerts_api: TestClient, container: Container, clock: FixedClock, admin_token: str
) -> None:
    incident_id = first_incident(alerts_api, container)
    clock.advance(LONG_AFTER)
    alert(alerts_api, "page", summary="API latency p99 4s")
    run_pipeline(container)
    page = sign_in(container, admin_token).get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    alerts_section = page.text.split('id="alerts"', 1)[1].split("</section>", 1)[0]
    assert "API latency p99 4s" in alerts_section
    assert html.escape(SEED_ALERT["summary"]) in alerts_section


def test_the_worker_triages_a_storms_signal_once_a_minute_and_a_new_signal_at_once(
    alerts_api: TestClient, container: Container, clock: FixedClock, triage: CausesByMetric
) -> None:
    incident_id = first_incident(alerts_api, container)
    memo = JoinTriageMemo()  # what the background worker keeps across its passes

    def one_pass(key: str, **fields: Any) -> int:
        alert(alerts_api, key, **fields)
        before = len(triage.seen)
        process_pending(container.uow, container.clock, container.triage_agent, memo=memo)
        return len(triage.seen) - before

    # The incident opened on this signal's triage, by another call with its own memo: this
    # worker reads that from the shared record (the triage runs) and does not triage again.
    assert one_pass("host-1", summary="CPU high on host-1") == 0
    clock.advance(JOIN_TRIAGE_EVERY)
    assert one_pass("host-2", summary="CPU high on host-2") == 1  # a minute on: again
    clock.advance(timedelta(seconds=20))
    assert one_pass("host-3", summary="CPU high on host-3") == 0  # same signal, a pass later
    assert one_pass("p99", metric="latency_p99", summary="p99 2s") == 1  # another signal
    clock.advance(JOIN_TRIAGE_EVERY)
    assert one_pass("host-4", summary="CPU high on host-4") == 1  # a minute on: again
    assert alerts_api.get(f"/v1/incidents/{incident_id}").json()["alert_count"] == 6
    assert len(incidents(alerts_api)) == 1


def test_triage_reads_no_more_related_alerts_than_it_shows(
    alerts_api: TestClient, container: Container, clock: FixedClock
) -> None:
    for n in range(MAX_RELATED + 10):
        alert(alerts_api, f"storm-{n}", summary=f"symptom {n}")
        clock.advance(timedelta(seconds=1))
    with container.uow() as uow:
        services = [SEED_ALERT["service"]]
        newest = uow.alerts.recent(services, clock.now() - timedelta(hours=1), 3)
        everything = uow.alerts.recent(services, clock.now() - timedelta(hours=1))
    assert [a.summary for a in newest] == [f"symptom {n}" for n in (59, 58, 57)]
    assert len(everything) == MAX_RELATED + 10
