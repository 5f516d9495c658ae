"""The repository behaviours services rely on, run against the in-memory fakes
(tests/fakes) and the SQL repositories on a real SQLite file: the same test, both stores,
so the fakes cannot drift from the real adapter."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from so1.adapters.db.engine import build_engine
from so1.adapters.db.idempotency import SqlIdempotencyStore
from so1.adapters.db.uow import SqlUnitOfWork
from so1.domain.access import Scope, new_key
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource, AlertStatus, SeverityHint
from so1.domain.changes import Deployment
from so1.domain.comms import DeliveryStatus, Destination, Outbound
from so1.domain.events import DomainEvent, MessageQueued
from so1.domain.incidents import Incident, IncidentStatus, TimelineEvent
from so1.domain.intake import Delivery, DeliveryOutcome
from so1.domain.severity import Severity
from so1.errors import Conflict
from so1.ports import IdempotencyStore, StoredResponse, UnitOfWork, UnitOfWorkFactory
from tests.fakes import FakeDatabase, FakeIdempotencyStore

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
DAY = date(2024, 1, 15)
T1 = T0 + timedelta(seconds=1)


class Store:
    """A unit-of-work factory and the events its commits dispatched."""

    def __init__(
        self,
        factory: UnitOfWorkFactory,
        dispatched: list[DomainEvent],
        idempotency: IdempotencyStore,
    ) -> None:
        self.uow = factory
        self.dispatched = dispatched
        self.idempotency = idempotency


@pytest.fixture(params=["fake", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Store]:
    if request.param == "fake":
        db = FakeDatabase()
        yield Store(db.uow, db.dispatched, FakeIdempotencyStore())
        return
    path = tmp_path / "so1.db"
    shutil.copy(sqlite_template, path)
    engine = build_engine(f"sqlite:///{path}")
    dispatched: list[DomainEvent] = []

    def factory(read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, read_only, dispatch=dispatched.extend)

    yield Store(factory, dispatched, SqlIdempotencyStore(engine))
    engine.dispose()


def new_incident(uow: UnitOfWork, **changes: object) -> Incident:
    incident = Incident(
        uow.incidents.next_id(DAY),
        "API errors",
        IncidentStatus.TRIGGERED,
        Severity.SEV2,
        T0,
        T0,
        T0,
    )
    incident = replace(incident, **changes)  # type: ignore[arg-type]
    uow.incidents.add(incident)
    return incident


def test_incident_numbers_are_gapless_and_a_rollback_gives_its_number_back(store: Store) -> None:
    with store.uow() as uow:
        first = new_incident(uow)
        uow.commit()
    with store.uow() as uow:
        new_incident(uow)  # left without commit
    with store.uow() as uow:
        second = new_incident(uow)
        uow.commit()
    assert (first.id, second.id) == ("INC-20240115-0001", "INC-20240115-0002")


def test_a_stale_version_is_a_conflict_and_the_stored_version_moves_on(store: Store) -> None:
    with store.uow() as uow:
        incident = new_incident(uow)
        uow.commit()
    with store.uow() as uow:
        uow.incidents.update(replace(incident, title="renamed"), expected_version=1)
        uow.commit()
    with store.uow() as uow:
        stored = uow.incidents.get(incident.id)
        with pytest.raises(Conflict):
            uow.incidents.update(replace(incident, title="lost update"), expected_version=1)
    assert stored is not None and (stored.title, stored.version) == ("renamed", 2)


def test_events_are_dispatched_only_after_a_commit(store: Store) -> None:
    event = MessageQueued("INC-20240115-0001", Destination.WAR_ROOM)
    with store.uow() as uow:
        uow.add_event(event)  # rolled back: never told
    assert store.dispatched == []
    with store.uow() as uow:
        uow.add_event(event)
        assert store.dispatched == []
        uow.commit()
    assert store.dispatched == [event]


def pool_alert(**changes: object) -> AlertEvent:
    event = AlertEvent(
        AlertSource.EVENTS,
        AlertAction.TRIGGER,
        "pool-1",
        "Pool at 90%",
        service="api",
        current_value="90%",
        severity_hint=SeverityHint.WARNING,
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def test_one_open_alert_per_identity_duplicates_counted_in_place(store: Store) -> None:
    with store.uow() as uow:
        first = uow.alerts.trigger(pool_alert(), "al_1", T0)
        later = T0 + timedelta(minutes=5)
        repeat = uow.alerts.trigger(
            pool_alert(summary="Pool at 100%", current_value="100%", severity_hint=None),
            "al_2",
            later,
        )
        uow.commit()
    assert repeat.id == first.id == "al_1"
    assert (repeat.dedup_count, repeat.last_seen_at, repeat.first_seen_at) == (2, later, T0)
    assert (repeat.summary, repeat.current_value) == ("Pool at 100%", "100%")
    assert repeat.severity_hint is SeverityHint.WARNING  # kept when the repeat has none
    with store.uow() as uow:
        resolved = uow.alerts.transition(AlertSource.EVENTS, "pool-1", AlertStatus.RESOLVED, later)
        again = uow.alerts.trigger(pool_alert(), "al_3", later + timedelta(minutes=1))
        found = uow.alerts.find(AlertSource.EVENTS, "pool-1")
        last = uow.alerts.last_resolved(AlertSource.EVENTS, "pool-1")
    assert resolved is not None and resolved.resolved_at == later
    assert again.id == "al_3" and again.dedup_count == 1
    assert found is not None and found.id == "al_3"  # the open one before the resolved one
    assert last is not None and last.id == "al_1"


def test_acknowledging_keeps_the_first_time_and_skips_suppressed_alerts(store: Store) -> None:
    with store.uow() as uow:
        uow.alerts.trigger(pool_alert(), "al_1", T0)
        uow.alerts.trigger(pool_alert(dedup_key="quiet"), "al_2", T0)
        uow.alerts.set_status("al_2", AlertStatus.SUPPRESSED, T0)
        first = uow.alerts.set_status("al_1", AlertStatus.ACKNOWLEDGED, T0 + timedelta(minutes=1))
        second = uow.alerts.set_status("al_1", AlertStatus.ACKNOWLEDGED, T0 + timedelta(minutes=2))
        quiet = uow.alerts.set_status("al_2", AlertStatus.ACKNOWLEDGED, T0)
    assert first is not None and second is not None and quiet is None
    assert first.acknowledged_at == second.acknowledged_at == T0 + timedelta(minutes=1)


def test_the_triage_queue_claims_oldest_first_and_takes_over_stale_claims(store: Store) -> None:
    with store.uow() as uow:
        for n in range(3):
            at = T0 + timedelta(minutes=n)
            uow.alerts.trigger(pool_alert(dedup_key=f"k{n}"), f"al_{n}", at)
        uow.commit()
    with store.uow() as uow:
        claimed = uow.alerts.claim_pending(2, T0, None)
        uow.commit()
    with store.uow() as uow:
        rest = uow.alerts.claim_pending(5, T0, None)
        backlog = uow.alerts.triage_backlog()
        stale = uow.alerts.claim_pending(5, T0 + timedelta(hours=1), T0 + timedelta(minutes=1))
    assert [a.id for a in claimed] == ["al_0", "al_1"]
    assert [a.id for a in rest] == ["al_2"]
    assert (backlog.waiting, backlog.oldest) == (3, T0)
    assert [a.id for a in stale] == ["al_0", "al_1", "al_2"]  # all claimed before the mark


def test_the_open_incident_of_a_service_is_found_through_its_alerts_too(store: Store) -> None:
    with store.uow() as uow:
        by_service = new_incident(uow, service="db")
        by_alert = new_incident(uow, detected_at=T0 + timedelta(minutes=1))
        closed = new_incident(uow, service="cache", status=IncidentStatus.RESOLVED)
        uow.alerts.trigger(pool_alert(service="worker"), "al_1", T0)
        uow.alerts.attach(["al_1"], by_alert.id)
        uow.commit()
    with store.uow(read_only=True) as uow:
        assert uow.alerts.open_incident_for(["db"]) == by_service.id
        assert uow.alerts.open_incident_for(["worker", "db"]) == by_alert.id  # the newest
        assert uow.alerts.open_incident_for(["cache"]) is None
        assert uow.alerts.count_by_service(by_alert.id) == {"worker": 1}
    assert closed.status is IncidentStatus.RESOLVED


def message(incident_id: str, kind: str, **changes: object) -> Outbound:
    found = Outbound(incident_id, Destination.WAR_ROOM, "internal", kind, "text", T0)
    return replace(found, **changes)  # type: ignore[arg-type]


def test_the_outbox_leases_due_messages_and_changes_drafts_only(store: Store) -> None:
    with store.uow() as uow:
        incident_id = new_incident(uow).id
        first = uow.outbox.add(message(incident_id, "declared"))
        draft = uow.outbox.add(message(incident_id, "update", status=DeliveryStatus.DRAFT))
        uow.commit()
    lease = T0 + timedelta(minutes=1)
    with store.uow() as uow:
        claimed = uow.outbox.claim_due(T0, lease, 10)
        assert not uow.outbox.any_due(T0)  # leased until ``lease``
        assert uow.outbox.update_draft(draft.id or 0, "edited", {"x": 1}, publish=True)
        assert not uow.outbox.update_draft(draft.id or 0, "again", {}, publish=True)
        uow.outbox.mark_sent(first.id or 0, T0, {"ref": "slack:C1:1.0"})
        uow.commit()
    with store.uow(read_only=True) as uow:
        kept = uow.outbox.for_incident(incident_id)
        by_ref = uow.outbox.by_vendor_ref("slack:C1:1.0")
    assert (first.id or 0) < (draft.id or 0)
    assert [(m.id, m.attempts, m.next_attempt_at) for m in claimed] == [(first.id, 1, lease)]
    assert [(m.kind, m.status, m.body) for m in kept] == [
        ("declared", DeliveryStatus.SENT, "text"),
        ("update", DeliveryStatus.PENDING, "edited"),
    ]
    assert by_ref is not None and by_ref.id == first.id


def test_an_alarm_is_claimed_once_and_a_delivery_key_stored_once(store: Store) -> None:
    delivery = Delivery(AlertSource.SENTRY, T0, {}, b"{}", DeliveryOutcome.ACCEPTED, None, "d-1")
    with store.uow() as uow:
        incident_id = new_incident(uow).id
        alarms = [uow.outbox.claim_alarm(incident_id, "ack", 1, T0) for _ in range(2)]
        alarms.append(uow.outbox.claim_alarm(incident_id, "ack", 2, T0))
        keyed = uow.intake.add_deliveries([delivery, delivery])
        [other] = uow.intake.add_deliveries([replace(delivery, source=AlertSource.DATADOG)])
    assert alarms == [True, False, True]
    assert keyed == [True, False] and other is True


def test_timeline_in_order_by_kind_and_what_is_read_is_a_copy(store: Store) -> None:
    with store.uow() as uow:
        incident_id = new_incident(uow).id
        for minute, kind in ((2, "b.second"), (1, "a.first"), (3, "b.third")):
            at = T0 + timedelta(minutes=minute)
            uow.timeline.add(TimelineEvent(incident_id, at, kind, "t", kind, {"n": minute}))
        uow.commit()
    with store.uow(read_only=True) as uow:
        every = uow.timeline.for_incident(incident_id)
        some = uow.timeline.for_incident(incident_id, ["b.second", "b.third"])
        every[0].data["n"] = 99  # changing what was read changes nothing stored
        again = uow.timeline.for_incident(incident_id)
    assert [e.kind for e in every] == ["a.first", "b.second", "b.third"]
    assert [e.kind for e in some] == ["b.second", "b.third"]
    assert again[0].data == {"n": 1}


def test_recent_deployments_carry_the_previous_successful_version(store: Store) -> None:
    with store.uow() as uow:
        for hours, version, status in (
            (3, "v1", "succeeded"),
            (2, "v2", "failed"),
            (1, "v3", None),
        ):
            deployed = Deployment("api", version, T0 - timedelta(hours=hours))
            uow.deployments.add(replace(deployed, status=status or "succeeded"))
        uow.deployments.add(Deployment("web", "w1", T0))
        uow.commit()
    with store.uow(read_only=True) as uow:
        recent = uow.deployments.recent(T0 - timedelta(hours=12), "api")
    assert [(d.version, d.previous_version) for d in recent] == [
        ("v3", "v1"),
        ("v2", "v1"),
        ("v1", None),
    ]


def test_an_idempotency_key_is_held_answered_replayed_and_expires(store: Store) -> None:
    keys, answer = store.idempotency, StoredResponse(201, b"{}", "application/json")
    assert keys.claim("k_1", "key-1", "hash-a", T0) is None
    assert keys.claim("k_1", "key-1", "hash-b", T0) == "hash-a"  # held while it runs
    assert keys.claim("k_2", "key-1", "hash-b", T0) is None  # another caller's key
    keys.complete("k_1", "key-1", answer)
    keys.release("k_1", "key-1")  # an answered claim is not forgotten
    assert keys.stored("k_1", "key-1") == answer
    hours = T0 + timedelta(hours=2)
    assert keys.claim("k_1", "key-1", "hash-b", hours) == "hash-a"  # replayed for a day
    assert keys.claim("k_1", "key-1", "hash-c", T0 + timedelta(days=2)) is None
    assert keys.stored("k_1", "key-1") is None
    keys.release("k_1", "key-1")  # the request failed: the key is free at once
    assert keys.claim("k_1", "key-1", "hash-d", T0 + timedelta(days=2)) is None
    unanswered = T0 + timedelta(days=2, minutes=6)
    assert keys.claim("k_1", "key-1", "hash-e", unanswered) is None  # lease over: taken over


def test_keys_sign_in_links_and_sessions(store: Store) -> None:
    admin = new_key("admin", frozenset({Scope.ADMIN}), T0).key
    expiring = new_key("ci", frozenset({Scope.ADMIN}), T1, expires_at=T0 + timedelta(hours=1)).key
    reader = new_key("reader", frozenset({Scope.READ}), T1 + timedelta(seconds=1)).key
    later = T0 + timedelta(hours=2)
    with store.uow() as uow:
        for key in (admin, expiring, reader):
            uow.keys.add(key)
        uow.web.add_link("link-hash", admin.id, T0 + timedelta(minutes=15), T0)
        uow.web.add_session("s1", admin.id, later, T0)
        uow.web.add_session("s2", reader.id, later, T0)
        uow.commit()
    with store.uow() as uow:
        assert uow.keys.count_usable_admins(T0) == 2
        assert uow.keys.count_usable_admins(later) == 1  # the CI key has expired
        uow.keys.revoke(admin.id, T0)
        assert uow.keys.count_usable_admins(T0) == 1
        assert uow.web.use_link("link-hash", T0) == admin.id
        assert uow.web.use_link("link-hash", T0) is None  # single use
        assert uow.web.session_owner("s1", T0) == (admin.id, None)
        assert uow.web.revoke_sessions_of([admin.id, "nobody"], T0) == 1
        assert uow.web.session_owner("s1", T0) == (None, None)
        assert not uow.web.revoke_session("s1", T0)  # no longer live
        assert uow.web.revoke_session("s2", T0)
        assert uow.web.secret("csrf", T0) == uow.web.secret("csrf", later)  # made once
        assert [k.name for k in uow.keys.all()] == ["admin", "ci", "reader"]
