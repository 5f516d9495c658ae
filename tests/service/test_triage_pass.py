"""A triage pass decides a batch with a few statements for the whole batch: the open
incident of every group found in one query (``open_incidents_around``), the alerts joined
without triage written together (``join_many``, each incident's timeline line with its
audit row), and the agent run for the first alert of each group before anything is
written. Each gives what the one-at-a-time way gave."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from so1.agents.triage import TriageResponder
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource
from so1.domain.catalog import CatalogService, Tier
from so1.domain.intake import DEFAULT_RULE
from so1.domain.records import AgentName
from so1.domain.timeline import EventKind
from so1.ports import IncidentFilter
from so1.services.background import TriagePass
from so1.services.triage.flow import process_pending
from so1.services.triage.joining import JoinTriageMemo, join_many
from so1.services.triage.scope import open_incidents_around
from tests.fakes import FakeClock, FakeDatabase
from tests.fakes.record_repos import FakeDeploymentRepository
from tests.service.conftest import open_incident


def event(key: str, service: str | None, metric: str = "error_rate") -> AlertEvent:
    return AlertEvent(
        AlertSource.EVENTS, AlertAction.TRIGGER, key, f"errors on {service}", service, metric
    )


def test_the_open_incident_of_each_group_is_the_newest_on_its_services_or_their_alerts(
    db: FakeDatabase, clock: FakeClock
) -> None:
    on_db = open_incident(db, clock, service="db")
    clock.advance(timedelta(minutes=1))
    holding = open_incident(db, clock, service=None)
    with db.uow() as uow:
        uow.alerts.trigger(event("w1", "worker"), "al_w1", clock.now())
        uow.alerts.attach(["al_w1"], holding.id)
        uow.commit()
    groups = [frozenset({"db"}), frozenset({"worker", "db"}), frozenset({"cache"}), frozenset()]
    with db.uow(read_only=True) as uow:
        found = open_incidents_around(uow, groups)
        assert found == {
            frozenset({"db"}): on_db.id,
            frozenset({"worker", "db"}): holding.id,
            frozenset({"cache"}): None,
        }
        for group, incident_id in found.items():  # what the one-group query answers
            assert uow.alerts.open_incident_for(sorted(group)) == incident_id


def test_join_many_attaches_notes_each_incident_once_and_marks_a_storm(
    db: FakeDatabase, clock: FakeClock
) -> None:
    calm, stormy = open_incident(db, clock, service="api"), open_incident(db, clock, service="db")
    rule = replace(DEFAULT_RULE, storm_threshold=3)
    with db.uow() as uow:
        alerts = [
            uow.alerts.trigger(event(f"k{n}", "db" if n else "api"), f"al_{n}", clock.now())
            for n in range(4)
        ]
        join_many(uow, clock.now(), {calm.id: alerts[:1], stormy.id: alerts[1:]}, rule)
        uow.commit()
    with db.uow(read_only=True) as uow:
        assert uow.alerts.count_for_incidents([calm.id, stormy.id]) == {calm.id: 1, stormy.id: 3}
        marked = {i.id: i.storm for i in uow.incidents.get_many([calm.id, stormy.id])}
        assert marked == {calm.id: False, stormy.id: True}
        joined = uow.timeline.for_incident(stormy.id, [EventKind.ALERT_CORRELATED])
        assert [e.data["count"] for e in joined] == [3]
        storm = uow.timeline.for_incident(stormy.id, [EventKind.INCIDENT_STORM])
        assert [e.data for e in storm] == [{"alert_count": 3}]
    audited = [r for r in db.tables.audit if r.action == EventKind.ALERT_CORRELATED]
    assert sorted(r.incident_id or "" for r in audited) == sorted([calm.id, stormy.id])


def test_a_batch_triages_the_first_alert_of_each_group_once_and_joins_the_rest(
    db: FakeDatabase, clock: FakeClock
) -> None:
    with db.uow() as uow:
        uow.catalog.upsert(CatalogService("db", Tier.CRITICAL, "platform"))
        uow.catalog.upsert(CatalogService("api", Tier.CRITICAL, "platform", 10, ["db"]))
        uow.catalog.upsert(CatalogService("web", Tier.MEDIUM, "web"))
        for n, service in enumerate(["api", "db", "web", "api", None, None, "web"]):
            uow.alerts.trigger(event(f"k{n}", service), f"al_{n}", clock.now())
        uow.commit()
    handled = process_pending(db.uow, clock, TriageResponder())
    assert handled == 7
    runs = [r for r in db.tables.agent_runs.values() if r.agent == AgentName.TRIAGE]
    triaged = sorted(r.inputs["alert"]["id"] for r in runs)
    # one per group (api+db, web), and each alert with no service on its own
    assert triaged == ["al_0", "al_2", "al_4", "al_5"]
    by_alert = {r.alert.id: r for r in db.tables.alerts.values()}
    assert by_alert["al_1"].alert.incident_id == by_alert["al_0"].alert.incident_id
    assert all(r.triage_state not in ("pending", "processing") for r in by_alert.values())


def test_a_new_incident_that_gathers_a_storm_of_alerts_is_marked_a_storm_once(
    db: FakeDatabase, clock: FakeClock
) -> None:
    """The incident a pass opens gathers its services' waiting alerts; with at least the
    rule's storm threshold (10) of them it is a storm from the start, noted once."""
    with db.uow() as uow:
        for n in range(12):
            uow.alerts.trigger(event(f"api{n}", "api"), f"al_api{n}", clock.now())
        for n in range(3):
            uow.alerts.trigger(event(f"web{n}", "web"), f"al_web{n}", clock.now())
        uow.commit()
    assert process_pending(db.uow, clock, TriageResponder()) == 15
    with db.uow(read_only=True) as uow:
        incidents, _ = uow.incidents.search(IncidentFilter())
        by_service = {i.service: i for i in incidents}
        counts = uow.alerts.count_for_incidents([i.id for i in by_service.values()])
        assert {s: counts[i.id] for s, i in by_service.items()} == {"api": 12, "web": 3}
        assert {s: i.storm for s, i in by_service.items()} == {"api": True, "web": False}
        storm = uow.timeline.for_incident(by_service["api"].id, [EventKind.INCIDENT_STORM])
        assert [e.data for e in storm] == [{"alert_count": 12}]
        assert uow.timeline.for_incident(by_service["web"].id, [EventKind.INCIDENT_STORM]) == []


def test_alerts_waiting_beyond_the_pass_that_opens_their_incident_join_it_when_decided(
    db: FakeDatabase, clock: FakeClock
) -> None:
    """A pass's new incident gathers the alerts the pass claimed; those of its service still
    waiting (past the batch of 100) join it when the next passes decide them, and it turns
    a storm once."""
    with db.uow() as uow:
        for n in range(150):
            uow.alerts.trigger(event(f"api{n}", "api"), f"al_{n:03d}", clock.now())
        uow.commit()
    assert process_pending(db.uow, clock, TriageResponder()) == 150
    with db.uow(read_only=True) as uow:
        [incident], _ = uow.incidents.search(IncidentFilter())
        assert uow.alerts.count_for_incidents([incident.id]) == {incident.id: 150}
        assert incident.storm
        storm = uow.timeline.for_incident(incident.id, [EventKind.INCIDENT_STORM])
        assert [e.data for e in storm] == [{"alert_count": 100}]  # the first pass's batch
    states = {r.triage_state for r in db.tables.alerts.values()}
    assert states == {"incident", "correlated"}


def test_a_woken_pass_gathers_the_alerts_of_the_next_commits_before_it_reads(
    db: FakeDatabase, clock: FakeClock
) -> None:
    """A pass waits a moment before it reads what is waiting, so the alerts committed
    meanwhile are decided in that pass too (its reads are shared) rather than the next."""
    with db.uow() as uow:
        uow.alerts.trigger(event("k0", "api"), "al_0", clock.now())
        uow.commit()
    triage = TriagePass(db.uow, clock, TriageResponder(), None, gather_seconds=0.5)
    passing = threading.Thread(target=triage)
    passing.start()
    time.sleep(0.1)  # the pass was woken by al_0; al_1 is committed while it gathers
    with db.uow() as uow:
        uow.alerts.trigger(event("k1", "web"), "al_1", clock.now())
        uow.commit()
    passing.join(10)
    states = {r.alert.id: r.triage_state for r in db.tables.alerts.values()}
    assert all(s not in ("pending", "processing") for s in states.values()), states


def test_a_pass_whose_alerts_all_join_an_open_incident_reads_no_recent_changes(
    db: FakeDatabase, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployments, flag flips and past incidents are the agent's inputs only: a storm's
    pass (every alert joins its incident, the signal triaged lately) skips reading them."""
    reads: list[object] = []
    recent = FakeDeploymentRepository.recent

    def counted(self: FakeDeploymentRepository, since: datetime, service: str | None) -> Any:
        reads.append(since)
        return recent(self, since, service)

    monkeypatch.setattr(FakeDeploymentRepository, "recent", counted)
    open_incident(db, clock, service="db")
    memo = JoinTriageMemo()

    def a_pass(*keys: str) -> None:
        with db.uow() as uow:
            for key in keys:
                uow.alerts.trigger(event(key, "db"), f"al_{key}", clock.now())
            uow.commit()
        assert process_pending(db.uow, clock, TriageResponder(), memo=memo) == len(keys)

    a_pass("first")  # the signal's first alert on the incident is triaged: the agent reads
    assert len(reads) == 1
    clock.advance(timedelta(seconds=5))
    a_pass("s1", "s2", "s3")  # the same signal again, within the minute: joined as they are
    assert len(reads) == 1
    joined = [r.alert.incident_id for r in db.tables.alerts.values()]
    assert len(set(joined)) == 1 and None not in joined
