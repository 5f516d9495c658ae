"""Shared fixtures: databases on both engines, a container with a settable clock, API clients.

PostgreSQL comes from SO1_TEST_POSTGRES_URL (default: the local server). Each test session
creates its own database there and drops it at the end; tests truncate between runs. When
PostgreSQL cannot be reached the PostgreSQL tests fail (they are never skipped).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from so1.adapters.clock import FixedClock
from so1.domain.access import Scope
from so1.domain.incidents import Incident
from so1.domain.oncall import Person
from so1.domain.severity import Severity
from so1.services.access import accounts, keys as access
from so1.services.incidents.lifecycle import NewIncident, create_incident
from so1.services.incidents.recording import Actor

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from so1.bootstrap import Container

# The database, the container and the app are imported where a fixture needs them: importing
# them costs seconds, which tests that use none of them (tests/service, tests/unit) skip.

# pytest-xdist's workers inherit COLUMNS/LINES from the controller's terminal; the CLI's Rich
# consoles would fix their width from them on import, so the tests' own COLUMNS (tests/e2e's
# Cli) would be ignored. Each test states its width instead.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_admin_url() -> str:
    return os.environ.get("SO1_TEST_POSTGRES_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from so1.adapters.db import migrate
    from so1.adapters.db.engine import build_engine

    admin_url = make_url(postgres_admin_url())
    name = f"so1_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {admin_url!r} is not reachable ({exc}); start it or set "
            "SO1_TEST_POSTGRES_URL",
            pytrace=False,
        )
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = build_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating per test would be slow)."""
    from so1.adapters.db import migrate
    from so1.adapters.db.engine import build_engine

    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


# procrastinate's tables (migration 0005): jobs left by one test must not reach the next.
JOB_ENGINE_TABLES = (
    "procrastinate_jobs",
    "procrastinate_periodic_defers",
    "procrastinate_events",
    "procrastinate_workers",
)


def _truncate_postgres(url: str) -> None:
    """Empty what the last test filled. TRUNCATE costs ~80 ms over every table even when
    they are empty, against ~23 ms for this probe and a TRUNCATE of what it finds."""
    from sqlalchemy import create_engine, text

    from so1.adapters.db.schema import metadata

    engine = create_engine(url)
    tables = [t.name for t in metadata.sorted_tables] + list(JOB_ENGINE_TABLES)
    probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)
    with engine.begin() as conn:
        filled = [row[0] for row in conn.execute(text(probe))]
        if filled:
            names = ", ".join(f'"{t}"' for t in filled)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        # ids start at 1 again, also where a test's rows were deleted or rolled back
        conn.execute(text(RESTART_SEQUENCES))
    engine.dispose()


RESTART_SEQUENCES = """
SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false)
FROM pg_sequences WHERE last_value IS NOT NULL
"""


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "so1.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def container(db_url: str, clock: FixedClock) -> Iterator[Container]:
    from so1.bootstrap import build_container
    from so1.config import Settings

    built = build_container(
        Settings(database_url=db_url, db_pool_size=5, auth_cache_seconds=0), clock=clock
    )
    yield built
    built.close()


def open_incident(container: Container, title: str, severity: Severity, **fields: Any) -> Incident:
    """An incident created as the fixture actor (``fields``: service, status, detected_at)."""
    return create_incident(
        container.uow, container.clock, Actor("t"), NewIncident(title, severity, **fields)
    )


def ensure_person(container: Container, handle: str) -> None:
    """``handle`` in the on-call directory (no role: their keys keep their scopes), so a key
    may name them."""
    with container.uow(read_only=True) as uow:
        if uow.oncall.person(handle) is not None:
            return
    accounts.add_person(container.uow, container.clock, Actor("fixture"), Person(handle))


def make_key(container: Container, *scopes: Scope, name: str = "tester") -> str:
    issued = access.create_key(
        container.uow, container.clock, Actor("fixture"), name, frozenset(scopes)
    )
    return issued.token


@pytest.fixture
def admin_token(container: Container) -> str:
    return make_key(container, Scope.ADMIN, name="admin")


@pytest.fixture
def api(container: Container, admin_token: str) -> Iterator[TestClient]:
    """A client authenticated with an admin key."""
    from fastapi.testclient import TestClient

    from so1.entrypoints.api.app import create_app

    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


@pytest.fixture
def anon(container: Container) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from so1.entrypoints.api.app import create_app

    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client
