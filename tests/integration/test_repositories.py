"""Every repository against real SQLite and PostgreSQL (the `db_url` fixture runs both)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from so1.bootstrap import Container
from so1.domain.access import Scope, new_key
from so1.domain.catalog import CatalogService, Tier
from so1.domain.changes import Deployment, FeatureFlag, FlagChange
from so1.domain.incidents import Incident, IncidentStatus, SeverityChange, TimelineEvent
from so1.domain.records import AgentRun, AuditRecord, Outcome, RunStatus
from so1.domain.severity import Severity
from so1.errors import Conflict
from so1.ports import IncidentFilter, StoredResponse

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


def incident(incident_id: str, **kw: object) -> Incident:
    values: dict[str, object] = {
        "id": incident_id,
        "title": "API error rate spike",
        "status": IncidentStatus.TRIGGERED,
        "severity": Severity.SEV2,
        "detected_at": T0,
        "created_at": T0,
        "updated_at": T0,
        "impact": {"users_affected": 150, "services": ["control-plane-api"]},
    }
    values.update(kw)
    return Incident(**values)  # type: ignore[arg-type]


def test_incident_ids_are_sequential_per_day(container: Container) -> None:
    with container.uow() as uow:
        ids = [uow.incidents.next_id(date(2024, 1, 15)) for _ in range(3)]
        other_day = uow.incidents.next_id(date(2024, 1, 16))
        uow.commit()
    assert ids == ["INC-20240115-0001", "INC-20240115-0002", "INC-20240115-0003"]
    assert other_day == "INC-20240116-0001"


def test_rolled_back_id_is_reused(container: Container) -> None:
    with container.uow() as uow:
        uow.incidents.next_id(date(2024, 1, 15))  # no commit: rolled back
    with container.uow() as uow:
        assert uow.incidents.next_id(date(2024, 1, 15)) == "INC-20240115-0001"


def test_incident_round_trip_keeps_utc_and_json(container: Container) -> None:
    with container.uow() as uow:
        uow.incidents.add(incident("INC-20240115-0001", commander="oncall-backend"))
        uow.commit()
    with container.uow(read_only=True) as uow:
        got = uow.incidents.get("INC-20240115-0001")
    assert got == incident("INC-20240115-0001", commander="oncall-backend")
    assert got is not None and got.detected_at.tzinfo is not None


def test_update_is_optimistically_locked(container: Container) -> None:
    with container.uow() as uow:
        uow.incidents.add(incident("INC-20240115-0001"))
        uow.commit()
    with container.uow() as uow:
        current = uow.incidents.get("INC-20240115-0001", for_update=True)
        assert current is not None
        uow.incidents.update(current, expected_version=1)
        with pytest.raises(Conflict, match="changed by someone else"):
            uow.incidents.update(current, expected_version=1)
        uow.commit()
    with container.uow(read_only=True) as uow:
        stored = uow.incidents.get("INC-20240115-0001")
        assert stored is not None and stored.version == 2


def test_search_filters_and_paginates(container: Container) -> None:
    with container.uow() as uow:
        for n, (sev, status, svc) in enumerate(
            [
                ("SEV1", "triggered", "api"),
                ("SEV2", "resolved", "api"),
                ("SEV2", "triggered", "db"),
            ],
            start=1,
        ):
            uow.incidents.add(
                incident(
                    f"INC-20240115-000{n}",
                    severity=Severity(sev),
                    status=IncidentStatus(status),
                    service=svc,
                    detected_at=T0 + timedelta(minutes=n),
                )
            )
        uow.commit()
    with container.uow(read_only=True) as uow:
        items, total = uow.incidents.search(IncidentFilter(severity=["SEV2"]))
        assert [i.id for i in items] == ["INC-20240115-0003", "INC-20240115-0002"]
        assert total == 2
        items, total = uow.incidents.search(IncidentFilter(status=["triggered"], service="api"))
        assert ([i.id for i in items], total) == (["INC-20240115-0001"], 1)
        page, total = uow.incidents.search(IncidentFilter(limit=1, offset=1))
        assert ([i.id for i in page], total) == (["INC-20240115-0002"], 3)


def test_timeline_and_severity_history_in_order(container: Container) -> None:
    with container.uow() as uow:
        uow.incidents.add(incident("INC-20240115-0001"))
        for minute, kind in [(5, "b"), (1, "a"), (5, "c")]:
            uow.timeline.add(
                TimelineEvent(
                    "INC-20240115-0001",
                    T0 + timedelta(minutes=minute),
                    kind,
                    "alice",
                    kind.upper(),
                    {"n": minute},
                )
            )
        uow.incidents.add_severity_change(
            SeverityChange(
                "INC-20240115-0001", Severity.SEV2, Severity.SEV1, "bob", "spreading", T0
            )
        )
        uow.commit()
    with container.uow(read_only=True) as uow:
        assert [e.kind for e in uow.timeline.for_incident("INC-20240115-0001")] == ["a", "b", "c"]
        (change,) = uow.incidents.severity_changes("INC-20240115-0001")
    assert (change.from_severity, change.to_severity, change.reason) == (
        Severity.SEV2,
        Severity.SEV1,
        "spreading",
    )


def test_catalog_upsert(container: Container) -> None:
    svc = CatalogService(
        "control-plane-api",
        Tier.CRITICAL,
        "platform-team",
        1200,
        ["postgres"],
        {"error_rate": 0.005},
        "railway",
        updated_at=T0,
    )
    with container.uow() as uow:
        assert uow.catalog.upsert(svc) is True
        assert (
            uow.catalog.upsert(CatalogService("control-plane-api", Tier.HIGH, updated_at=T0))
            is False
        )
        uow.commit()
    with container.uow(read_only=True) as uow:
        got = uow.catalog.get("control-plane-api")
        assert got is not None and got.tier is Tier.HIGH and got.dependencies == []
        assert [s.name for s in uow.catalog.all()] == ["control-plane-api"]
        assert uow.catalog.get("nope") is None


def test_deployments_recent_with_previous_version(container: Container) -> None:
    with container.uow() as uow:
        uow.deployments.add(Deployment("api", "v1", T0 - timedelta(days=3)))
        uow.deployments.add(Deployment("api", "v2-bad", T0 - timedelta(hours=5), status="failed"))
        stored = uow.deployments.add(
            Deployment("api", "v3", T0 - timedelta(hours=4), deployed_by="dana")
        )
        uow.deployments.add(Deployment("web", "w9", T0 - timedelta(hours=1)))
        uow.commit()
    assert stored.previous_version == "v1" and stored.id is not None
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(container.engine, "before_cursor_execute", count)
    try:
        with container.uow(read_only=True) as uow:
            statements.clear()
            recent = uow.deployments.recent(T0 - timedelta(hours=24), None)
            assert len(statements) == 1  # one query, not one more per row
            only_api = uow.deployments.recent(T0 - timedelta(hours=24), "api")
    finally:
        event.remove(container.engine, "before_cursor_execute", count)
    assert [(d.service, d.version, d.previous_version) for d in recent] == [
        ("web", "w9", None),
        ("api", "v3", "v1"),
        ("api", "v2-bad", "v1"),
    ]
    assert [d.version for d in only_api] == ["v3", "v2-bad"]


def test_flags_and_their_history(container: Container) -> None:
    with container.uow() as uow:
        uow.flags.upsert(FeatureFlag("bulk-execution", True, T0, "alice"))
        uow.flags.upsert(FeatureFlag("bulk-execution", False, T0, "bob", "bulk runs"))
        uow.flags.add_change(FlagChange("bulk-execution", True, False, "bob", "pool exhausted", T0))
        uow.commit()
    with container.uow(read_only=True) as uow:
        flag = uow.flags.get("bulk-execution")
        assert flag is not None and flag.enabled is False and flag.description == "bulk runs"
        assert [c.reason for c in uow.flags.changes("bulk-execution")] == ["pool exhausted"]
        assert len(uow.flags.all()) == 1


def test_keys_lifecycle(container: Container) -> None:
    admin = new_key("admin", frozenset({Scope.ADMIN}), T0).key
    reader = new_key("reader", frozenset({Scope.READ}), T0).key
    with container.uow() as uow:
        uow.keys.add(admin)
        uow.keys.add(reader)
        uow.keys.touch(reader.id, T0 + timedelta(minutes=1))
        uow.commit()
    with container.uow() as uow:
        assert uow.keys.count_usable_admins(T0) == 1
        uow.keys.expire(admin.id, T0 + timedelta(hours=1))
        assert uow.keys.count_usable_admins(T0 + timedelta(hours=2)) == 0
        uow.keys.revoke(reader.id, T0)
        uow.commit()
    with container.uow(read_only=True) as uow:
        got = uow.keys.get(reader.id)
        assert got is not None and got.revoked_at == T0 and got.scopes == {Scope.READ}
        assert got.last_used_at == T0 + timedelta(minutes=1)
        assert {k.name for k in uow.keys.all()} == {"admin", "reader"}


def test_audit_and_agent_runs(container: Container) -> None:
    run = AgentRun("run_1", "triage-responder", RunStatus.RUNNING, {"alert_id": "a"}, T0, "alice")
    with container.uow() as uow:
        for n in range(3):
            uow.audit.add(
                AuditRecord(
                    T0 + timedelta(seconds=n),
                    f"actor{n % 2}",
                    "incident.create",
                    "incident",
                    str(n),
                    Outcome.SUCCESS,
                    "127.0.0.1",
                    {"n": n},
                )
            )
        uow.agent_runs.add(run)
        uow.agent_runs.update(
            AgentRun(
                "run_1",
                "triage-responder",
                RunStatus.COMPLETED,
                {"alert_id": "a"},
                T0,
                "alice",
                output={"severity": "SEV2"},
            )
        )
        uow.commit()
    with container.uow(read_only=True) as uow:
        assert [r.resource_id for r in uow.audit.search(10, 0)] == ["2", "1", "0"]
        assert [r.resource_id for r in uow.audit.search(10, 0, actor="actor0")] == ["2", "0"]
        got = uow.agent_runs.get("run_1")
    assert (
        got is not None and got.status is RunStatus.COMPLETED and got.output == {"severity": "SEV2"}
    )


def test_idempotency_store(container: Container) -> None:
    store = container.edge.idempotency
    assert store.claim("p", "k1", "hash-a", T0) is None
    assert store.claim("p", "k1", "hash-b", T0) == "hash-a"
    assert store.claim("other", "k1", "hash-b", T0) is None
    assert store.stored("p", "k1") is None
    store.complete("p", "k1", StoredResponse(201, b'{"id":1}', "application/json"))
    assert store.stored("p", "k1") == StoredResponse(201, b'{"id":1}', "application/json")
    store.release("other", "k1")
    assert store.claim("other", "k1", "hash-c", T0) is None


def test_check_constraints_refuse_bad_values(container: Container) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from so1.adapters.db import tables

    row = {
        "id": "INC-20240115-0009",
        "title": "x",
        "status": "exploded",
        "severity": "SEV2",
        "impact": {},
        "detected_at": T0,
        "created_at": T0,
        "updated_at": T0,
        "version": 1,
    }
    with pytest.raises(IntegrityError), container.engine.begin() as conn:
        conn.execute(insert(tables.incidents).values(row))


def test_participants_are_time_ranged(container: Container) -> None:
    from so1.domain.participants import Participation, Role

    with container.uow() as uow:
        uow.incidents.add(incident("INC-20240115-0001"))
        uow.participants.assume(Participation("INC-20240115-0001", "alice", Role.COMMANDER, T0))
        uow.participants.assume(Participation("INC-20240115-0001", "bob", Role.RESPONDER, T0))
        later = T0 + timedelta(minutes=30)
        assert uow.participants.renounce("INC-20240115-0001", "alice", Role.COMMANDER, later) == 1
        assert uow.participants.renounce("INC-20240115-0001", "alice", Role.COMMANDER, later) == 0
        uow.commit()
    with container.uow(read_only=True) as uow:
        current = uow.participants.current("INC-20240115-0001")
        history = uow.participants.history("INC-20240115-0001")
    assert [(p.handle, p.role) for p in current] == [("bob", Role.RESPONDER)]
    assert [(p.handle, p.renounced_at) for p in history] == [("alice", later), ("bob", None)]
