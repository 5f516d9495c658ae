"""SO1 through a real PgBouncer (Debian's package) in transaction mode: with
SO1_DB_PREPARED_STATEMENTS=false, alerts are taken, triaged into incidents and read back
many times over a handful of server connections shared between transactions."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from so1.adapters.db import migrate
from so1.adapters.db.engine import build_engine
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.entrypoints.api.app import create_app
from tests.conftest import _truncate_postgres, make_key
from tests.e2e.fault_support import Alerts, wait_until
from tests.e2e.intake_support import SEED_ALERT

pytestmark = pytest.mark.postgres

SERVER_CONNECTIONS = 3  # PgBouncer's pool: fewer than the clients, so they are shared
INI = """[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {users}
pool_mode = transaction
default_pool_size = {pool}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def bouncer_url(postgres_url: str) -> Iterator[str]:
    """The test database's URL through a PgBouncer in transaction mode on a free port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert Path(binary).exists(), "pgbouncer is not installed (apt-get install pgbouncer)"
    target, listen = make_url(postgres_url), _free_port()
    folder = Path(tempfile.mkdtemp(prefix="so1-pgbouncer-"))
    folder.chmod(0o755)  # readable by the user PgBouncer drops to when started as root
    users, ini = folder / "users.txt", folder / "pgbouncer.ini"
    users.write_text(f'"{target.username}" ""\n')
    ini.write_text(
        INI.format(
            host=target.host,
            port=target.port or 5432,
            listen=listen,
            users=users,
            pool=SERVER_CONNECTIONS,
        )
    )
    for path in (users, ini):
        path.chmod(0o644)
    command = [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(ini)]
    bouncer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", listen)) != 0:
            assert bouncer.poll() is None, bouncer.stdout.read() if bouncer.stdout else ""
            assert time.monotonic() < deadline, "PgBouncer did not start listening"
            time.sleep(0.05)
        yield target.set(port=listen).render_as_string(hide_password=False)
    finally:
        bouncer.terminate()
        bouncer.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_alerts_are_triaged_and_read_back_through_pgbouncer(
    bouncer_url: str, postgres_url: str
) -> None:
    _truncate_postgres(postgres_url)
    settings = Settings(
        database_url=bouncer_url,
        db_pool_size=8,
        db_prepared_statements=False,
        auth_cache_seconds=0,
    )
    container = build_container(settings)
    alerts = Alerts(postgres_url)  # read straight from PostgreSQL
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {make_key(container, Scope.ADMIN)}"
            for n in range(30):
                body = {**SEED_ALERT, "service": f"pgb-svc-{n % 5}", "dedup_key": f"pgb-{n}"}
                response = client.post("/v1/alerts", json=body)
                assert response.status_code == 202, response.text

            # Each again, several at once: the duplicates' counts (one UPDATE ... FROM unnest
            # per batch) through the pooler too.
            def again(n: int) -> Any:
                body = {**SEED_ALERT, "service": f"pgb-svc-{n % 5}", "dedup_key": f"pgb-{n}"}
                return client.post("/v1/alerts", json=body)

            with ThreadPoolExecutor(8) as pool:
                repeats = list(pool.map(again, range(30)))
            assert [r.status_code for r in repeats] == [202] * 30, [r.text for r in repeats]
            assert {(r.json()["outcome"], r.json()["dedup_count"]) for r in repeats} == {
                ("duplicate", 2)
            }
            wait_until(lambda: alerts.pending_triage() == 0, "triage through PgBouncer", 30)
            # The same statements many times from several connections at once: psycopg would
            # prepare them after 5, on one server connection the next transaction may not get.
            with ThreadPoolExecutor(8) as pool:
                reads = list(pool.map(lambda _: client.get("/v1/incidents"), range(160)))
    finally:
        alerts.close()
        container.close()
    assert {r.status_code for r in reads} == {200}, [r.text for r in reads if r.status_code != 200]
    services = {i["service"] for i in reads[-1].json()["items"]}
    assert services == {f"pgb-svc-{n}" for n in range(5)}


def _errors_from_repeated_statements(url: str, prepared: bool) -> list[str]:
    """Eight threads, each running the same statement 50 times in its own transactions on
    SO1's engine: the load under which a prepared statement meets the wrong server
    connection."""
    engine = build_engine(url, pool_size=8, prepared_statements=prepared)
    errors: list[str] = []

    def work(_: int) -> None:
        try:
            with engine.connect() as conn:
                for n in range(50):
                    conn.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": n}).scalar_one()
                    conn.commit()
        except DBAPIError as exc:
            errors.append(type(exc.orig).__name__)

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
    finally:
        engine.dispose()
    return errors


def test_prepared_statements_break_under_transaction_pooling_and_the_setting_turns_them_off(
    bouncer_url: str,
) -> None:
    assert _errors_from_repeated_statements(bouncer_url, prepared=False) == []
    assert _errors_from_repeated_statements(bouncer_url, prepared=True) != []


def test_migrating_through_pgbouncer_leaves_no_lock_behind(
    bouncer_url: str, postgres_url: str
) -> None:
    """`so1 serve` migrates at every start; through transaction pooling a session lock could
    be taken on one server connection and its unlock run on another, leaving it held."""
    engine = build_engine(bouncer_url, pool_size=4, prepared_statements=False)
    try:
        for _ in range(5):
            migrate.upgrade(engine)
    finally:
        engine.dispose()
    direct = create_engine(postgres_url)
    try:
        with direct.connect() as conn:
            query = (
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            assert conn.execute(text(query)).scalar_one() == 0
    finally:
        direct.dispose()
