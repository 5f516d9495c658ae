"""PostgreSQL diagnostics for the database-failure playbook (shared/reference/integrations.md
§8): sessions from pg_stat_activity with who blocks whom, cancel / terminate, replication lag.

A short connection per call, in autocommit, with a statement timeout and an application name
so SO1's own session is easy to recognise; SQL is parameterised only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from so1.adapters.jobs.procrastinate_runner import libpq_url
from so1.domain.database import Caller, Replica, Session, Signal
from so1.errors import NotFound, Unavailable

APPLICATION = "so1-diagnostics"
STATEMENT_TIMEOUT_MS = 5_000

_SESSION = """
SELECT a.pid, a.usename AS user, a.application_name AS application, a.state, a.backend_type,
       a.query_start, a.xact_start, a.wait_event_type || ':' || a.wait_event AS wait_event,
       left(a.query, 500) AS query, coalesce(r.rolsuper, false) AS superuser,
       pg_blocking_pids(a.pid) AS blocked_by
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
"""
_LONG_RUNNING = (
    _SESSION
    + """
WHERE a.backend_type = 'client backend' AND a.state <> 'idle' AND a.pid <> pg_backend_pid()
  AND (now() - a.query_start > %(min)s OR now() - a.xact_start > %(min)s
       OR cardinality(pg_blocking_pids(a.pid)) > 0
       OR a.pid IN (SELECT unnest(pg_blocking_pids(b.pid)) FROM pg_stat_activity b))
ORDER BY a.query_start NULLS LAST
"""
)
_BY_PID = _SESSION + " WHERE a.pid = %s"
_CALLER = """
SELECT pg_backend_pid() AS pid, r.rolsuper AS superuser,
       pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS signal_backend,
       array(SELECT m.rolname FROM pg_roles m
             WHERE pg_has_role(current_user, m.oid, 'MEMBER')) AS member_of
FROM pg_roles r WHERE r.rolname = current_user
"""
_REPLICATION = """
SELECT application_name AS name, state, replay_lag,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes
FROM pg_stat_replication ORDER BY application_name
"""
_SIGNALS = {
    Signal.CANCEL: "SELECT pg_cancel_backend(%s)",
    Signal.TERMINATE: "SELECT pg_terminate_backend(%s)",
}


class PostgresDiagnostics:
    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self._conninfo = libpq_url(url)

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=5,
                row_factory=dict_row,
                application_name=APPLICATION,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        except psycopg.OperationalError as exc:
            raise Unavailable(f"database {self.name} did not answer: {exc}") from exc

    def sessions(self, min_runtime: timedelta) -> tuple[Caller, list[Session]]:
        """SO1's identity there, and the long-running, blocked and blocking sessions."""
        with self._connect() as conn:
            caller = _caller(conn)
            rows = conn.execute(_LONG_RUNNING, {"min": min_runtime}).fetchall()
        return caller, [_session(row) for row in rows]

    def session(self, pid: int) -> tuple[Caller, Session]:
        with self._connect() as conn:
            caller = _caller(conn)
            row = conn.execute(_BY_PID, (pid,)).fetchone()
        if row is None:
            raise NotFound(f"no session with pid {pid} on database {self.name}")
        return caller, _session(row)

    def signal(self, pid: int, signal: Signal) -> bool:
        with self._connect() as conn:
            row = conn.execute(_SIGNALS[signal], (pid,)).fetchone()
        return bool(row and next(iter(row.values())))

    def replication(self) -> list[Replica]:
        with self._connect() as conn:
            rows = conn.execute(_REPLICATION).fetchall()
        return [Replica(r["name"], r["state"], r["replay_lag"], r["lag_bytes"]) for r in rows]


def _caller(conn: psycopg.Connection[dict[str, Any]]) -> Caller:
    row = conn.execute(_CALLER).fetchone()
    assert row is not None
    return Caller(
        row["pid"], bool(row["superuser"]), bool(row["signal_backend"]), frozenset(row["member_of"])
    )


def _session(row: dict[str, Any]) -> Session:
    return Session(
        pid=row["pid"],
        user=row["user"],
        application=row["application"],
        state=row["state"],
        backend_type=row["backend_type"],
        query_started_at=row["query_start"],
        transaction_started_at=row["xact_start"],
        wait_event=row["wait_event"],
        query=row["query"] or "",
        superuser=bool(row["superuser"]),
        blocked_by=tuple(row["blocked_by"] or ()),
    )
