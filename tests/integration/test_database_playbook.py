"""The database-failure playbook against the real PostgreSQL server: long-running and
blocking sessions, cancel then terminate with guards, the failover decision clock."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from so1.adapters.clock import FixedClock
from so1.adapters.diagnostics.postgres import PostgresDiagnostics
from so1.adapters.jobs.procrastinate_runner import libpq_url
from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.domain.severity import Severity
from so1.entrypoints.api.app import create_app
from tests.conftest import make_key, open_incident

pytestmark = pytest.mark.postgres


class Victim:
    """A session on the database that runs ``sql`` in a thread and keeps what happened."""

    def __init__(self, url: str, name: str, *sql: str) -> None:
        self.conn = psycopg.connect(libpq_url(url), autocommit=True, application_name=name)
        self.pid = self.conn.info.backend_pid
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql: tuple[str, ...]) -> None:
        try:
            for statement in sql:
                self.conn.execute(statement.encode())
        except BaseException as exc:
            self.error = exc

    def close(self) -> None:
        """Cancel what the thread still runs and wait for it before closing: closing a
        connection while another thread executes on it crashed psycopg (a segfault in CI)."""
        with contextlib.suppress(psycopg.Error):
            self.conn.cancel()
        self.thread.join(10)
        with contextlib.suppress(psycopg.Error):
            self.conn.close()


@pytest.fixture
def pg_api(postgres_url: str, container: Container, admin_token: str) -> Iterator[TestClient]:
    container.adapters.diagnostics = {"orders": PostgresDiagnostics("orders", postgres_url)}
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


@pytest.fixture
def victims(postgres_url: str) -> Iterator[Callable[..., Victim]]:
    made: list[Victim] = []

    def make(name: str, *sql: str) -> Victim:
        made.append(Victim(postgres_url, name, *sql))
        return made[-1]

    yield make
    for victim in made:
        victim.close()


def incident(container: Container) -> str:
    return open_incident(container, "Database down", Severity.SEV1, service="orders").id


def listed(api: TestClient, incident_id: str, pid: int, min_seconds: int = 0) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = api.get(
            f"/v1/incidents/{incident_id}/database/sessions", params={"min_seconds": min_seconds}
        ).json()
        found: list[dict[str, Any]] = [s for s in answer["sessions"] if s["pid"] == pid]
        if found:
            return found[0]
        time.sleep(0.1)
    pytest.fail(f"pid {pid} never listed")


def test_cancel_first_then_terminate_an_idle_blocker(
    pg_api: TestClient, container: Container, clock: FixedClock, victims: Callable[..., Victim]
) -> None:
    inc = incident(container)
    started = pg_api.post(f"/v1/incidents/{inc}/playbooks/database").json()
    assert started["remaining_seconds"] == 600 and started["overdue"] is False
    pg_api.post("/v1/incidents/{inc}/playbooks/database".replace("{inc}", inc))  # again: same clock
    clock.advance(timedelta(minutes=11))
    assert pg_api.get(f"/v1/incidents/{inc}/playbooks/database").json()["overdue"] is True

    slow = victims("slow-report", "SELECT pg_sleep(30)")
    row = listed(pg_api, inc, slow.pid)
    assert row["application"] == "slow-report" and "pg_sleep" in row["query"]
    early = pg_api.post(f"/v1/incidents/{inc}/database/sessions/{slow.pid}/terminate")
    assert early.status_code == 409 and "cancel the query first" in early.text
    cancelled = pg_api.post(f"/v1/incidents/{inc}/database/sessions/{slow.pid}/cancel")
    assert cancelled.json() == {"pid": slow.pid, "signal": "cancel", "sent": True}
    slow.thread.join(10)
    assert isinstance(slow.error, psycopg.errors.QueryCanceled)

    holder = victims("holder", "BEGIN", "SELECT pg_advisory_xact_lock(424242)")
    holder.thread.join(10)  # idle in transaction, holding the lock
    waiter = victims("waiter", "SELECT pg_advisory_xact_lock(424242)")
    blocked = listed(pg_api, inc, waiter.pid)
    assert blocked["blocked_by"] == [holder.pid]
    assert listed(pg_api, inc, holder.pid, min_seconds=3600)["state"] == "idle in transaction"
    pg_api.post(f"/v1/incidents/{inc}/database/sessions/{holder.pid}/cancel")
    too_soon = pg_api.post(f"/v1/incidents/{inc}/database/sessions/{holder.pid}/terminate")
    assert too_soon.status_code == 409 and "wait" in too_soon.text
    clock.advance(timedelta(seconds=6))
    ended = pg_api.post(f"/v1/incidents/{inc}/database/sessions/{holder.pid}/terminate")
    assert ended.json()["sent"] is True
    waiter.thread.join(10)
    assert waiter.error is None  # the lock went with the session

    events = pg_api.get(f"/v1/incidents/{inc}/timeline").json()["events"]
    signals = [e["data"]["signal"] for e in events if e["kind"] == "database.signal"]
    assert signals == ["cancel", "cancel", "terminate"]
    assert pg_api.get(f"/v1/incidents/{inc}/database/replication").json() == []


def test_guards_and_scopes(
    pg_api: TestClient, container: Container, postgres_url: str, victims: Callable[..., Victim]
) -> None:
    inc = incident(container)
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS so1_diag")
        admin.execute("CREATE ROLE so1_diag LOGIN IN ROLE pg_monitor, pg_signal_backend")
    limited = make_url(postgres_url).set(username="so1_diag").render_as_string(hide_password=False)
    container.adapters.diagnostics = {"orders": PostgresDiagnostics("orders", limited)}
    superuser_query = victims("superuser-job", "SELECT pg_sleep(20)")
    listed(pg_api, inc, superuser_query.pid)
    refused = pg_api.post(f"/v1/incidents/{inc}/database/sessions/{superuser_query.pid}/cancel")
    assert refused.status_code == 409 and "only a superuser may signal it" in refused.text
    assert superuser_query.thread.is_alive()

    reader = TestClient(create_app(container), raise_server_exceptions=False)
    reader.headers["Authorization"] = f"Bearer {make_key(container, Scope.READ, Scope.WRITE)}"
    assert reader.get(f"/v1/incidents/{inc}/database/sessions").status_code == 200
    assert reader.post(f"/v1/incidents/{inc}/database/sessions/1/cancel").status_code == 403
    gone = pg_api.post(f"/v1/incidents/{inc}/database/sessions/999999/cancel")
    assert gone.status_code == 404
    unknown = pg_api.get(f"/v1/incidents/{inc}/database/sessions", params={"database": "x"})
    assert unknown.status_code == 422 and "orders" in unknown.text
