"""The database-failure playbook over HTTP: the failover decision clock, long-running and
blocking sessions, cancel then terminate (with guards), replication lag."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from so1.domain.database import Session, Signal
from so1.entrypoints.api.deps import ContainerDep, Reader, Writer
from so1.errors import NotFound
from so1.services.access.clearance import check_act, check_read
from so1.services.investigation import database_playbook as svc

router = APIRouter(prefix="/v1/incidents/{incident_id}", tags=["playbooks"])
Database = Annotated[str | None, Query(max_length=100, description="a SO1_DIAGNOSE_DATABASES name")]
Pid = Annotated[int, Path(ge=1, le=2_147_483_647)]


class PlaybookOut(BaseModel):
    database: str
    started_at: datetime
    failover_decision_by: datetime
    remaining_seconds: float
    overdue: bool


class SessionOut(BaseModel):
    pid: int
    user: str | None
    application: str | None
    state: str | None
    runtime_seconds: float | None
    transaction_seconds: float | None
    wait_event: str | None
    query: str
    superuser: bool
    blocked_by: list[int]


class SessionsOut(BaseModel):
    database: str
    so1_pid: int
    sessions: list[SessionOut]


class SignalOut(BaseModel):
    pid: int
    signal: str
    sent: bool


class ReplicaOut(BaseModel):
    name: str
    state: str | None
    replay_lag_seconds: float | None
    lag_bytes: int | None


def _playbook(state: svc.PlaybookState) -> PlaybookOut:
    return PlaybookOut(
        database=state.database,
        started_at=state.clock.started_at,
        failover_decision_by=state.clock.deadline(),
        remaining_seconds=state.remaining.total_seconds(),
        overdue=state.overdue,
    )


@router.post("/playbooks/database", response_model=PlaybookOut)
def start(
    incident_id: str, container: ContainerDep, actor: Writer, database: Database = None
) -> PlaybookOut:
    check_act(container.uow, actor, incident_id)
    db = svc.pick(container.adapters.diagnostics, database)
    return _playbook(svc.start(container.uow, container.clock, actor, incident_id, db))


@router.get("/playbooks/database", response_model=PlaybookOut)
def status(
    incident_id: str, container: ContainerDep, actor: Reader, database: Database = None
) -> PlaybookOut:
    check_read(container.uow, actor, incident_id)
    db = svc.pick(container.adapters.diagnostics, database)
    found = svc.status(container.uow, container.clock, actor, incident_id, db)
    if found is None:
        raise NotFound(f"the database playbook was not started for {incident_id}")
    return _playbook(found)


def _session(s: Session, now: datetime) -> SessionOut:
    runtime = s.runtime(now)
    xact = now - s.transaction_started_at if s.transaction_started_at else None
    return SessionOut(
        pid=s.pid,
        user=s.user,
        application=s.application,
        state=s.state,
        runtime_seconds=runtime.total_seconds() if runtime else None,
        transaction_seconds=xact.total_seconds() if xact else None,
        wait_event=s.wait_event,
        query=s.query,
        superuser=s.superuser,
        blocked_by=list(s.blocked_by),
    )


@router.get("/database/sessions", response_model=SessionsOut)
def sessions(
    incident_id: str,
    container: ContainerDep,
    actor: Reader,
    database: Database = None,
    min_seconds: Annotated[int, Query(ge=0, le=86_400)] = 300,
) -> SessionsOut:
    """Sessions running longer than ``min_seconds`` (default 5 minutes), blocked, or blocking."""
    check_read(container.uow, actor, incident_id)
    db = svc.pick(container.adapters.diagnostics, database)
    caller, found = svc.sessions(
        container.uow, actor, incident_id, db, timedelta(seconds=min_seconds)
    )
    now = container.clock.now()
    return SessionsOut(
        database=db.name, so1_pid=caller.pid, sessions=[_session(s, now) for s in found]
    )


@router.post("/database/sessions/{pid}/{signal}", response_model=SignalOut)
def stop(
    incident_id: str,
    pid: Pid,
    signal: Signal,
    container: ContainerDep,
    actor: Writer,
    database: Database = None,
    force: bool = False,
) -> SignalOut:
    """``cancel`` the query, or ``terminate`` the session after a cancel that did not work
    (``force`` skips that wait). Needs the deploy scope."""
    check_act(container.uow, actor, incident_id)
    db = svc.pick(container.adapters.diagnostics, database)
    sent = svc.stop_session(
        container.uow, container.clock, actor, incident_id, db, pid, signal, force
    )
    return SignalOut(pid=pid, signal=signal.value, sent=sent)


@router.get("/database/replication", response_model=list[ReplicaOut])
def replication(
    incident_id: str, container: ContainerDep, actor: Reader, database: Database = None
) -> list[ReplicaOut]:
    """Replicas seen from the primary; no row for a replica means it is disconnected, and a
    null lag means no recent measurement (caught up and idle)."""
    check_read(container.uow, actor, incident_id)
    db = svc.pick(container.adapters.diagnostics, database)
    svc.sessions(container.uow, actor, incident_id, db, timedelta(days=1))  # access check
    return [
        ReplicaOut(
            name=r.name,
            state=r.state,
            replay_lag_seconds=r.replay_lag.total_seconds() if r.replay_lag else None,
            lag_bytes=r.lag_bytes,
        )
        for r in db.replication()
    ]
