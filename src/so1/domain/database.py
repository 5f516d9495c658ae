"""The runbook's "Database failure" scenario, pure: sessions worth stopping, the guards on
stopping them (cancel before terminate; never our own backend, never a non-client backend,
never a superuser's backend without being one), replication lag, and the 10-minute failover
decision clock."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

FAILOVER_DECISION = timedelta(minutes=10)  # seed: "Failover within 10 minutes if primary..."
LONG_RUNNING = timedelta(minutes=5)  # the reference query's threshold
CANCEL_GRACE = timedelta(seconds=5)  # wait this long after a cancel before terminating


class Signal(enum.StrEnum):
    CANCEL = "cancel"  # pg_cancel_backend: stop the query, keep the session
    TERMINATE = "terminate"  # pg_terminate_backend: end the session


@dataclass(frozen=True, slots=True)
class Session:
    pid: int
    user: str | None
    application: str | None
    state: str | None
    backend_type: str
    query_started_at: datetime | None
    transaction_started_at: datetime | None
    wait_event: str | None
    query: str
    superuser: bool
    blocked_by: tuple[int, ...] = ()

    def runtime(self, now: datetime) -> timedelta | None:
        return now - self.query_started_at if self.query_started_at else None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who SO1 is on that database: its own pid and what it may signal."""

    pid: int
    superuser: bool
    signal_backend: bool  # member of pg_signal_backend
    member_of: frozenset[str]  # roles the caller is a member of


def refusal(
    target: Session,
    caller: Caller,
    signal: Signal,
    cancelled_at: datetime | None,
    now: datetime,
    force: bool = False,
) -> str | None:
    """Why SO1 will not send ``signal`` to ``target`` (None: it may)."""
    why = _never(target, caller)
    if why is None and signal is Signal.TERMINATE and not force:
        why = _cancel_first(cancelled_at, now)
    return why


def _never(target: Session, caller: Caller) -> str | None:
    if target.pid == caller.pid:
        return "that is SO1's own connection"
    if target.backend_type != "client backend":
        return f"pid {target.pid} is a {target.backend_type}, not a client session"
    if target.superuser and not caller.superuser:
        return (
            f"pid {target.pid} belongs to superuser {target.user}; only a superuser may signal it"
        )
    allowed = caller.superuser or caller.signal_backend or (target.user in caller.member_of)
    if not allowed:
        return f"SO1's role may not signal {target.user}'s sessions (grant pg_signal_backend)"
    return None


def _cancel_first(cancelled_at: datetime | None, now: datetime) -> str | None:
    if cancelled_at is None:
        return "cancel the query first; terminate only if the cancel did not work"
    since = now - cancelled_at
    if since < CANCEL_GRACE:
        wait = (CANCEL_GRACE - since).total_seconds()
        return f"the cancel was {since.total_seconds():.0f} s ago; wait {wait:.0f} s more"
    return None


@dataclass(frozen=True, slots=True)
class Replica:
    name: str
    state: str | None
    replay_lag: timedelta | None  # None: no recent measurement (caught up and idle)
    lag_bytes: int | None


@dataclass(frozen=True, slots=True)
class FailoverClock:
    started_at: datetime

    def deadline(self) -> datetime:
        return self.started_at + FAILOVER_DECISION

    def remaining(self, now: datetime) -> timedelta:
        return max(self.deadline() - now, timedelta(0))

    def overdue(self, now: datetime) -> bool:
        return now >= self.deadline()
