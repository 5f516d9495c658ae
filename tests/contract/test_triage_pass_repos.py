"""The repository methods a triage pass uses to read and write for a whole batch at once,
held to what their one-at-a-time counterparts do: on the in-memory fakes, SQLite and
PostgreSQL (the SQL ones use a UNION, JSON paths and executemany)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from so1.adapters.db.engine import build_engine
from so1.adapters.db.uow import SqlUnitOfWork
from so1.domain.incidents import IncidentStatus, TimelineEvent
from so1.domain.intake import Silence
from so1.domain.records import AgentName, AgentRun, AuditRecord, Outcome, RunStatus
from so1.domain.timeline import EventKind
from so1.ports import OpenIncidentOn, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import SYSTEM, noted, record_many
from tests.conftest import _truncate_postgres
from tests.contract.test_repository_fakes import T0, new_incident, pool_alert
from tests.fakes import FakeDatabase


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[UnitOfWorkFactory]:
    if request.param == "fake":
        yield FakeDatabase().uow
        return
    if request.param == "sqlite":
        path = tmp_path / "so1.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(url)
    engine = build_engine(url)

    def factory(read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, read_only)

    yield factory
    engine.dispose()


def test_open_incidents_for_gives_each_open_incident_once_per_service_it_is_on(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as u:
        on_db = new_incident(u, service="db")
        holding = new_incident(u, service="api", detected_at=T0 + timedelta(minutes=1))
        new_incident(u, service="cache", status=IncidentStatus.RESOLVED)
        new_incident(u, service="elsewhere")
        u.alerts.trigger(pool_alert(service="worker"), "al_1", T0)
        u.alerts.trigger(pool_alert(service="db", dedup_key="pool-2"), "al_2", T0)
        u.alerts.trigger(pool_alert(service="worker", dedup_key="pool-3"), "al_3", T0)
        u.alerts.attach(["al_1", "al_2", "al_3"], holding.id)
        u.commit()
    later = T0 + timedelta(minutes=1)
    with uow(read_only=True) as u:
        found = u.alerts.open_incidents_for(["db", "worker", "cache", "nothing"])
        assert sorted(found, key=lambda o: (o.incident_id, o.service)) == [
            OpenIncidentOn(on_db.id, "db", T0),
            OpenIncidentOn(holding.id, "db", later),
            OpenIncidentOn(holding.id, "worker", later),
        ]
        assert u.alerts.open_incidents_for([]) == []
        # the same answer open_incident_for gives, one group at a time
        assert u.alerts.open_incident_for(["db", "worker"]) == holding.id


def test_attach_many_and_count_for_incidents(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        first, second = new_incident(u), new_incident(u)
        for n in range(3):
            u.alerts.trigger(pool_alert(dedup_key=f"p{n}"), f"al_{n}", T0)
        u.alerts.attach_many([("al_0", first.id), ("al_1", second.id), ("al_2", second.id)])
        u.alerts.attach_many([])
        u.commit()
    with uow(read_only=True) as u:
        assert u.alerts.count_for_incidents([first.id, second.id, "INC-none"]) == {
            first.id: 1,
            second.id: 2,
        }
        assert u.alerts.count_for_incidents([]) == {}
        alert = u.alerts.get("al_2")
        assert alert is not None
        assert alert.incident_id == second.id


def test_get_many_reads_the_incidents_that_exist(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        first, second = new_incident(u), new_incident(u, title="other")
        u.commit()
    with uow() as u:
        got = u.incidents.get_many([second.id, first.id, "INC-none"], for_update=True)
        assert sorted(got, key=lambda i: i.id) == [first, second]
        assert u.incidents.get_many([]) == []


def test_record_many_writes_each_timeline_line_with_its_audit_row_in_order(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as u:
        first, second = new_incident(u), new_incident(u)
        changes = [
            noted(first.id, EventKind.ALERT_CORRELATED, "one", {"count": 1}),
            noted(second.id, EventKind.ALERT_CORRELATED, "two", {"count": 2}),
            noted(first.id, EventKind.INCIDENT_STORM, "three"),
        ]
        record_many(u, SYSTEM, T0, changes)
        record_many(u, SYSTEM, T0, [])
        u.commit()
    with uow(read_only=True) as u:
        lines = [(e.summary, e.kind, e.data) for e in u.timeline.for_incident(first.id)]
        assert lines == [
            ("one", EventKind.ALERT_CORRELATED, {"count": 1}),
            ("three", EventKind.INCIDENT_STORM, {}),
        ]
        audit = u.audit.search(10, 0, action=EventKind.ALERT_CORRELATED)
        assert sorted((r.incident_id, r.detail["count"]) for r in audit) == [
            (first.id, 1),
            (second.id, 2),
        ]


def test_add_many_keeps_every_field(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        incident = new_incident(u)
        event = TimelineEvent(incident.id, T0, EventKind.ALERT_CORRELATED, "triage", "x", {})
        u.timeline.add_many([event, replace(event, summary="y")])
        record = AuditRecord(T0, "triage", "a", "incident", incident.id, Outcome.SUCCESS)
        u.audit.add_many([record, replace(record, action="b")])
        u.commit()
    with uow(read_only=True) as u:
        assert [e.summary for e in u.timeline.for_incident(incident.id)] == ["x", "y"]
        assert sorted(r.action for r in u.audit.search(10, 0, actor="triage")) == ["a", "b"]


def run(run_id: str, incident_id: str | None, minutes: int, **alert: str | None) -> AgentRun:
    inputs = {"alert": {"id": "al", "service": None, "metric": None, **alert}}
    started = T0 + timedelta(minutes=minutes)
    return AgentRun(
        run_id, AgentName.TRIAGE, RunStatus.COMPLETED, inputs, started, "triage",
        incident_id=incident_id,
    )  # fmt: skip


def test_last_triaged_is_the_latest_triage_run_of_each_signal_since(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as u:
        first, second = new_incident(u), new_incident(u)
        u.agent_runs.add(run("r1", first.id, 1, service="api", metric="cpu"))
        u.agent_runs.add(run("r2", first.id, 3, service="api", metric="cpu"))
        u.agent_runs.add(run("r3", first.id, 2, service="api"))
        u.agent_runs.add(run("r4", second.id, 2, service="db", metric="cpu"))
        u.agent_runs.add(run("r5", first.id, -5, service="web"))  # before ``since``
        u.agent_runs.add(run("r6", None, 2, service="api", metric="cpu"))  # on no incident
        u.agent_runs.add(replace(run("r7", first.id, 4, service="x"), agent="other"))
        u.commit()

    def at(minutes: int) -> object:
        return T0 + timedelta(minutes=minutes)

    with uow(read_only=True) as u:
        assert u.agent_runs.last_triaged([first.id], T0) == {
            (first.id, "api", "cpu"): at(minutes=3),
            (first.id, "api", ""): at(minutes=2),
        }
        both = u.agent_runs.last_triaged([first.id, second.id], T0)
        assert both[second.id, "db", "cpu"] == at(minutes=2)
        assert u.agent_runs.last_triaged([], T0) == {}


@pytest.mark.postgres
def test_lock_groups_takes_the_free_groups_and_leaves_the_held_ones(postgres_url: str) -> None:
    _truncate_postgres(postgres_url)
    engine = build_engine(postgres_url)
    try:
        with SqlUnitOfWork(engine) as first, SqlUnitOfWork(engine) as second:
            assert first.intake.lock_groups(["api", "db"]) == {"api", "db"}
            assert second.intake.lock_groups(["db", "web", "api", "queue"]) == {"web", "queue"}
            assert first.intake.lock_groups(["api"]) == {"api"}  # its own: held again
            assert not second.intake.lock_group("db", wait=False)
            assert second.intake.lock_groups([]) == set()
    finally:
        engine.dispose()


def test_lock_groups_with_none_held_has_every_group(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        assert u.intake.lock_groups(["api", "db"]) == {"api", "db"}


def _stored(u: UnitOfWork, count: int) -> list[str]:
    ids = [f"al_{n}" for n in range(count)]
    for n, alert_id in enumerate(ids):
        u.alerts.trigger(pool_alert(dedup_key=f"k{n}"), alert_id, T0 + timedelta(seconds=n))
    return ids


def test_a_pass_claims_finishes_and_attaches_the_alerts_it_read_waiting(
    uow: UnitOfWorkFactory,
) -> None:
    """What a triage pass does with the alerts ``waiting`` gave it (on PostgreSQL, by their
    primary keys): only the still claimable ones are claimed, and each write reaches exactly
    the alerts named."""
    with uow() as u:
        incident = new_incident(u)
        ids = _stored(u, 5)
        u.commit()
    with uow() as u:  # another worker has claimed al_1 meanwhile
        assert [a.id for a in u.alerts.claim_among(["al_1"], T0, None)] == ["al_1"]
        u.commit()
    now = T0 + timedelta(minutes=1)
    with uow() as u:
        waiting = u.alerts.waiting(10, stale_before=None)
        assert [alert_id for alert_id, _ in waiting] == ["al_0", "al_2", "al_3", "al_4"]
        claimed = u.alerts.claim_among(ids, now, None)
        assert [a.id for a in claimed] == ["al_0", "al_2", "al_3", "al_4"]
        u.alerts.attach(["al_0"], incident.id)
        u.alerts.finish_many(["al_0"], "correlated")
        u.alerts.attach_many([("al_2", incident.id)], finished_as="correlated")  # one write
        u.alerts.finish_many(["al_3"], "triaged")
        u.alerts.attach_many([("al_4", incident.id)])  # its triage state left as it is
        u.commit()
    with uow(read_only=True) as u:
        found = {alert_id: u.alerts.get(alert_id) for alert_id in ids}
        states = {k: (u.alerts.triage_state(k), a.incident_id) for k, a in found.items() if a}
        assert states == {
            "al_0": ("correlated", incident.id),
            "al_1": ("processing", None),
            "al_2": ("correlated", incident.id),
            "al_3": ("triaged", None),
            "al_4": ("processing", incident.id),
        }


def test_gatherable_leaves_out_what_triage_still_waits_to_decide(uow: UnitOfWorkFactory) -> None:
    """What a new incident gathers in a pass: the open alerts on its services in the window
    with no incident, claimed or decided already; not those waiting for triage (they join
    when decided), resolved ones, ones on an incident, or other services' or older ones."""
    with uow() as u:
        incident = new_incident(u)
        _stored(u, 6)  # api, last seen T0 + n seconds
        u.alerts.trigger(pool_alert(dedup_key="db-1", service="db"), "al_db", T0)
        u.commit()
    with uow() as u:
        u.alerts.claim_among(["al_0", "al_1", "al_2", "al_3", "al_4"], T0, None)
        u.alerts.finish_many(["al_1"], "ticket")
        u.alerts.attach(["al_2"], incident.id)
        u.alerts.close("al_3", T0, "resolved by triage")
        u.commit()
    since = T0 + timedelta(milliseconds=1)  # al_0 was last seen before the window
    with uow() as u:
        found = [a.id for a in u.alerts.gatherable(["api"], since)]
        assert found == ["al_4", "al_1"]  # newest first; al_5 waits, al_0 is older
        assert [a.id for a in u.alerts.gatherable(["api", "db"], T0)] == ["al_4", "al_1", "al_0"]
        assert [a.id for a in u.alerts.gatherable(["api"], T0, limit=1)] == ["al_4"]


def test_a_claim_older_than_stale_before_is_taken_over(uow: UnitOfWorkFactory) -> None:
    with uow() as u:
        _stored(u, 2)
        u.alerts.claim_among(["al_0"], T0, None)  # a worker that then died
        u.commit()
    later = T0 + timedelta(minutes=5)
    with uow() as u:
        waiting = u.alerts.waiting(10, stale_before=T0 + timedelta(minutes=1))
        assert sorted(alert_id for alert_id, _ in waiting) == ["al_0", "al_1"]
        assert u.alerts.claim_among(["al_0"], later, None) == []  # not stale: not offered
        taken = u.alerts.claim_among(["al_0", "al_1"], later, T0 + timedelta(minutes=1))
        assert [a.id for a in taken] == ["al_0", "al_1"]
        assert u.alerts.claim_among(["al_0", "al_1"], later, later - timedelta(seconds=1)) == []


@dataclass
class Watched:
    """A PostgreSQL engine whose statements are kept, with an incident and 3 stored alerts."""

    engine: Engine
    statements: list[str]
    incident_id: str


@pytest.fixture
def watched(postgres_url: str) -> Iterator[Watched]:
    _truncate_postgres(postgres_url)
    engine = build_engine(postgres_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with SqlUnitOfWork(engine) as u:
        incident = new_incident(u)
        _stored(u, 3)
        u.commit()
    yield Watched(engine, statements, incident.id)
    engine.dispose()


@pytest.mark.postgres
def test_on_postgres_a_pass_names_each_alert_by_its_primary_key(watched: Watched) -> None:
    """A week's partition grows faster than autovacuum analyzes it; by id alone PostgreSQL
    planned a 100-id claim as a scan of the whole partition (alert_weeks.py). Alerts whose
    week the unit of work read go by (id, stored_at); an alert it did not read, by id."""
    statements, incident_id = watched.statements, watched.incident_id
    with SqlUnitOfWork(watched.engine) as u:
        statements.clear()
        u.alerts.waiting(2, stale_before=None)  # al_0 and al_1
        u.alerts.claim_among(["al_0", "al_1"], T0, None)
        u.alerts.attach(["al_0"], incident_id)
        u.alerts.finish_many(["al_0", "al_1"], "correlated")
        waiting, *keyed = [s for s in statements if s.lstrip().startswith(("UPDATE", "SELECT"))]
        assert "triage_state" in waiting and len(keyed) == 4
        assert all("unnest" in s and "k.stored_at" in s for s in keyed), keyed
        statements.clear()
        u.alerts.attach(["al_2"], incident_id)  # never read here: by id
        assert "unnest" not in statements[-1] and "alerts.id IN" in statements[-1], statements
        u.commit()


@pytest.mark.postgres
def test_on_postgres_the_alerts_a_new_incident_gathers_are_attached_by_primary_key(
    watched: Watched,
) -> None:
    """What ``recent`` and ``gatherable`` read, a new incident attaches by primary key too
    (applying.py). By id alone, attaching a service's hundred alerts took 6-15 ms of the
    pass that holds the day's incident counter."""
    statements, incident_id = watched.statements, watched.incident_id
    with SqlUnitOfWork(watched.engine) as u:
        read = u.alerts.recent(["api"], T0)
        statements.clear()
        u.alerts.attach([a.id for a in read[:1]], incident_id)  # al_2, the newest
        assert len(read) == 3 and "unnest" in statements[-1], statements
        u.alerts.claim_among(["al_0", "al_1"], T0, None)
        u.commit()
    with SqlUnitOfWork(watched.engine) as u:
        gathered = u.alerts.gatherable(["api"], T0)
        statements.clear()
        u.alerts.attach([a.id for a in gathered], incident_id)
        assert [a.id for a in gathered] == ["al_1", "al_0"]  # al_2 is on the incident
        assert "unnest" in statements[-1], statements
        u.commit()
    with SqlUnitOfWork(watched.engine) as u:
        assert u.alerts.count_for_incidents([incident_id]) == {incident_id: 3}


def test_latest_gives_each_incident_its_last_event_of_the_kind(uow: UnitOfWorkFactory) -> None:
    """The newest by time, the later-written one at equal times; other kinds, and incidents
    with none of the kind, are left out."""
    with uow() as u:
        first, second, quiet = new_incident(u), new_incident(u), new_incident(u)
        kind = EventKind.ALERT_CORRELATED
        lines = [
            TimelineEvent(first.id, T0 + timedelta(minutes=2), kind, "triage", "newest", {}),
            TimelineEvent(first.id, T0, kind, "triage", "oldest", {"total": 1}),
            TimelineEvent(first.id, T0 + timedelta(minutes=5), EventKind.INCIDENT_STORM, "t", "x"),
            TimelineEvent(second.id, T0, kind, "triage", "tie 1", {}),
            TimelineEvent(second.id, T0, kind, "triage", "tie 2", {"total": 7}),
            TimelineEvent(quiet.id, T0, EventKind.INCIDENT_STORM, "triage", "storm", {}),
        ]
        u.timeline.add_many(lines)
        u.commit()
    with uow(read_only=True) as u:
        found = u.timeline.latest([first.id, second.id, quiet.id, "INC-none"], kind)
        assert {i: (e.summary, e.data) for i, e in found.items()} == {
            first.id: ("newest", {}),
            second.id: ("tie 2", {"total": 7}),
        }
        assert found[first.id].occurred_at == T0 + timedelta(minutes=2)
        assert u.timeline.latest([], kind) == {}


def test_the_silences_active_at_a_time_are_those_whose_window_holds_it(
    uow: UnitOfWorkFactory,
) -> None:
    """From its start (included) to its end (excluded), unless expired; every silence when no
    time is given, by start."""
    hour = timedelta(hours=1)

    def window(reason: str, starts: timedelta, ends: timedelta) -> Silence:
        return Silence({"service": "db"}, T0 + starts, T0 + ends, reason, "alice", T0 - hour)

    with uow() as u:
        for silence in (
            window("ends now", -hour, timedelta(0)),
            window("starts now", timedelta(0), hour),
            window("later", hour, 2 * hour),
            window("holds now", -2 * hour, hour),
            window("expired", -2 * hour, hour),
        ):
            added = u.intake.add_silence(silence)
            if silence.reason == "expired":
                assert added.id is not None and u.intake.expire_silence(added.id, T0 - hour)
        u.commit()
    with uow(read_only=True) as u:
        assert [s.reason for s in u.intake.silences(active_at=T0)] == ["holds now", "starts now"]
        assert [s.reason for s in u.intake.silences()] == [
            "holds now",
            "expired",
            "ends now",
            "starts now",
            "later",
        ]
        assert all(s.starts_at.tzinfo is not None for s in u.intake.silences())
