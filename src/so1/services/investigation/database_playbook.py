"""The runbook's "Database failure" scenario for an incident: start it (the failover decision
clock), list long-running and blocking sessions, cancel then terminate with guards, and read
replication lag. Every look and every signal is audited and on the incident's timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from so1.domain.database import Caller, FailoverClock, Replica, Session, Signal, refusal
from so1.domain.timeline import EventKind
from so1.errors import Conflict, Forbidden, NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read
from so1.services.incidents.recording import Actor, Change, record

STARTED, SIGNALLED = EventKind.DATABASE_PLAYBOOK_STARTED, EventKind.DATABASE_SIGNAL


class Diagnostics(Protocol):
    name: str

    def sessions(self, min_runtime: timedelta) -> tuple[Caller, list[Session]]: ...
    def session(self, pid: int) -> tuple[Caller, Session]: ...
    def signal(self, pid: int, signal: Signal) -> bool: ...
    def replication(self) -> list[Replica]: ...


@dataclass(frozen=True)
class PlaybookState:
    database: str
    clock: FailoverClock
    remaining: timedelta
    overdue: bool


def pick(databases: Mapping[str, Diagnostics], name: str | None) -> Diagnostics:
    if not databases:
        raise ValidationFailed("no database to diagnose: set SO1_DIAGNOSE_DATABASES", "database")
    if name is None and len(databases) == 1:
        return next(iter(databases.values()))
    if name is None or name not in databases:
        known = ", ".join(sorted(databases))
        raise ValidationFailed(f"'database' must be one of: {known}", field="database")
    return databases[name]


def _incident(uow: UnitOfWork, actor: Actor, incident_id: str, acting: bool = False) -> None:
    check = require_act if acting else require_read
    if check(uow, actor, incident_id) is None:
        raise NotFound(f"incident {incident_id} does not exist")


def start(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str, db: Diagnostics
) -> PlaybookState:
    """Start the scenario once per incident: the 10-minute failover decision clock runs."""
    now = clock.now()
    with uow_factory() as uow:
        _incident(uow, actor, incident_id, acting=True)
        started = _started_at(uow, incident_id)
        if started is None:
            started = now
            deadline = f"{FailoverClock(now).deadline():%H:%M} UTC"
            text = (
                f"database failure playbook started on {db.name}: decide on failover by {deadline}"
            )
            record(
                uow,
                actor,
                now,
                Change(
                    "playbook.start",
                    "incident",
                    incident_id,
                    text,
                    {"database": db.name},
                    incident_id,
                    STARTED,
                ),
            )
            uow.commit()
    return state(started, now, db.name)


def state(started: datetime, now: datetime, database: str) -> PlaybookState:
    failover = FailoverClock(started)
    return PlaybookState(database, failover, failover.remaining(now), failover.overdue(now))


def _started_at(uow: UnitOfWork, incident_id: str) -> datetime | None:
    events = uow.timeline.for_incident(incident_id, [STARTED])
    return events[0].occurred_at if events else None


def status(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str, db: Diagnostics
) -> PlaybookState | None:
    with uow_factory(read_only=True) as uow:
        _incident(uow, actor, incident_id)
        started = _started_at(uow, incident_id)
    return state(started, clock.now(), db.name) if started else None


def sessions(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    incident_id: str,
    db: Diagnostics,
    min_runtime: timedelta,
) -> tuple[Caller, list[Session]]:
    with uow_factory(read_only=True) as uow:
        _incident(uow, actor, incident_id)
    return db.sessions(min_runtime)


def stop_session(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    db: Diagnostics,
    pid: int,
    signal: Signal,
    force: bool = False,
) -> bool:
    """Cancel (or, after a cancel that did not work, terminate) one session; refused with the
    reason when a guard says no. Returns what PostgreSQL answered."""
    if not actor.can_deploy:
        raise Forbidden("stopping database sessions needs a key with the 'deploy' scope")
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        _incident(uow, actor, incident_id, acting=True)
        cancelled = _last_cancel(uow, incident_id, db.name, pid)
    caller, target = db.session(pid)
    why = refusal(target, caller, signal, cancelled, now, force)
    if why is not None:
        raise Conflict(f"will not {signal} pid {pid}: {why}")
    done = db.signal(pid, signal)
    text = (
        f"{signal} of pid {pid} on {db.name} ({target.user}, {target.state}): "
        f"{'sent' if done else 'PostgreSQL said no'}; query: {target.query[:120]}"
    )
    detail = {
        "database": db.name,
        "pid": pid,
        "signal": signal.value,
        "ok": done,
        "user": target.user,
        "forced": force,
    }
    with uow_factory() as uow:
        record(
            uow,
            actor,
            now,
            Change(
                f"database.{signal}",
                "database_session",
                str(pid),
                text,
                detail,
                incident_id,
                SIGNALLED,
            ),
        )
        uow.commit()
    return done


def _last_cancel(uow: UnitOfWork, incident_id: str, database: str, pid: int) -> datetime | None:
    events = uow.timeline.for_incident(incident_id, [SIGNALLED])
    cancels = [
        e.occurred_at
        for e in events
        if e.data.get("pid") == pid
        and e.data.get("database") == database
        and e.data.get("signal") == "cancel"
    ]
    return cancels[-1] if cancels else None
