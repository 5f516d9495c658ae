"""Replay one corpus case through the real app: its world over the API, then POST /v1/orchestrate.

Each case gets an empty migrated database (a copy of a migrated SQLite file, or a truncated
PostgreSQL database) and a container on a FixedClock at the case's ``now``, so nothing one
case stores (alerts, incidents, deployments) reaches the next. The world is made the way a
user would make it, through the HTTP API of ``create_app`` (in-process, no lifespan, so no
background jobs run and the related alerts stay untriaged, as in tests/e2e/test_seed_triage):

- catalog: ``PUT /v1/services/{name}`` for every service of the case's catalog;
- deployments: ``POST /v1/deployments``, the ``previous_version`` first, a week earlier
  (the API derives a deployment's previous version from the record before it);
- flag changes: ``PUT /v1/feature-flags/{key}`` with the old state a week earlier, then the
  new one at ``changed_at``;
- related alerts: ``POST /v1/alerts`` with ``timestamp: first_seen_at``, delivered at ``now``
  (so the store keeps when each was first seen and knows it is still being sent, as a monitor
  re-sends a firing alert), ``dedup_count`` times, then acknowledged or resolved as their
  ``status`` says;

and the case's alert goes to ``POST /v1/orchestrate`` as the runbook sends it. The report is
the run's ``output``; any other answer is a ``ReplayError`` naming the call that failed.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.triage_corpus import Case, Deployment, FlagChange, RelatedAlert
from so1.adapters.clock import FixedClock
from so1.adapters.db import migrate
from so1.adapters.db.engine import build_engine
from so1.adapters.db.schema import metadata
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.records import AgentName
from so1.entrypoints.api.app import create_app
from so1.services.access import keys as access
from so1.services.incidents.recording import Actor

HISTORY_GAP = timedelta(days=7)  # earlier records stay out of triage's recent-change window
JOB_ENGINE_TABLES = (  # procrastinate's tables (migration 0005), emptied with ours
    "procrastinate_jobs",
    "procrastinate_periodic_defers",
    "procrastinate_events",
    "procrastinate_workers",
)
FreshDatabase = Callable[[], str]


class ReplayError(RuntimeError):
    """The app refused or failed a call while replaying a case."""


def replay(case: Case, fresh_database: FreshDatabase) -> dict[str, Any]:
    """The triage report POST /v1/orchestrate gives for the case, in a world of its own."""
    with world(case, fresh_database) as api:
        run = _call(api, "POST", "/v1/orchestrate", json=_orchestrate_body(case))
    if run.get("status") != "completed" or not isinstance(run.get("output"), dict):
        raise ReplayError(f"orchestrate run {run.get('status')}: {run.get('error')}")
    output: dict[str, Any] = run["output"]
    return output


@contextmanager
def world(case: Case, fresh_database: FreshDatabase) -> Iterator[TestClient]:
    """An API client on a new database holding the case's catalog and context, at ``now``."""
    clock = FixedClock(case.now)
    settings = Settings(
        database_url=fresh_database(), triage_worker=False, auth_cache_seconds=0, db_pool_size=2
    )
    container = build_container(settings, clock=clock)
    try:
        issued = access.create_key(
            container.uow, clock, Actor("triage-eval"), "triage-eval", frozenset({Scope.ADMIN})
        )
        api = TestClient(create_app(container), raise_server_exceptions=False)
        api.headers["Authorization"] = f"Bearer {issued.token}"
        _build_world(api, clock, case)
        yield api
    finally:
        container.close()


def _orchestrate_body(case: Case) -> dict[str, Any]:
    alert = case.raw.alert
    inputs = {
        "alert_id": alert.alert_id,
        "alert_source": alert.alert_source,
        "alert_data": alert.alert_data,
    }
    return {"agent": AgentName.TRIAGE, "inputs": inputs}


def _build_world(api: TestClient, clock: FixedClock, case: Case) -> None:
    for service in case.services:
        _call(api, "PUT", f"/v1/services/{service.name}", json=service.model_dump(exclude={"name"}))
    for deployment in case.raw.deployments:
        _deploy(api, deployment)
    for change in case.raw.flag_changes:
        _flip(api, clock, change)
    clock.set(case.now)
    for alert in case.raw.related_alerts:
        _related(api, alert)


def _deploy(api: TestClient, deployment: Deployment) -> None:
    if deployment.previous_version:
        earlier = deployment.deployed_at - HISTORY_GAP
        body = {"service": deployment.service, "version": deployment.previous_version}
        _call(api, "POST", "/v1/deployments", json={**body, "deployed_at": earlier.isoformat()})
    body = deployment.model_dump(mode="json", exclude={"previous_version"}, exclude_none=True)
    _call(api, "POST", "/v1/deployments", json=body)


def _flip(api: TestClient, clock: FixedClock, change: FlagChange) -> None:
    clock.set(change.changed_at - HISTORY_GAP)
    before = {"enabled": change.enabled_before, "service": change.service}
    _call(api, "PUT", f"/v1/feature-flags/{change.key}", json=before)
    clock.set(change.changed_at)
    after = {"enabled": change.enabled_after, "reason": change.reason}
    _call(api, "PUT", f"/v1/feature-flags/{change.key}", json=after)


def _related(api: TestClient, alert: RelatedAlert) -> None:
    body: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": alert.id,
        "source": alert.source,
        "service": alert.service,
        "summary": alert.summary,
        "timestamp": alert.first_seen_at.isoformat(),
    }
    for key in ("metric", "current_value", "threshold"):
        if getattr(alert, key) is not None:
            body[key] = getattr(alert, key)
    if alert.severity_hint:
        body["severity"] = alert.severity_hint
    stored: dict[str, Any] = {}
    for _ in range(alert.dedup_count):
        stored = _call(api, "POST", "/v1/alerts", json=body)
    if alert.status == "acknowledged":
        _call(api, "POST", f"/v1/alerts/{stored['alert_id']}/acknowledge")
    elif alert.status == "resolved":
        resolve = {**body, "event_action": "resolve"}
        _call(api, "POST", "/v1/alerts", json=resolve)


def _call(api: TestClient, method: str, url: str, json: Any = None) -> dict[str, Any]:
    response = api.request(method, url, json=json)
    if response.status_code >= 300:
        raise ReplayError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    body = response.json()
    return body if isinstance(body, dict) else {"items": body}


@contextmanager
def sqlite_databases() -> Iterator[FreshDatabase]:
    """A factory of empty databases: copies of one migrated SQLite file, in a temp directory."""
    with tempfile.TemporaryDirectory(prefix="so1-triage-eval-") as tmp:
        template = Path(tmp) / "template.db"
        engine = build_engine(f"sqlite:///{template}")
        migrate.upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        count = 0

        def fresh() -> str:
            nonlocal count
            count += 1
            path = Path(tmp) / f"case-{count}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"

        yield fresh


@contextmanager
def postgres_databases(admin_url: str) -> Iterator[FreshDatabase]:
    """A factory of empty databases: one throw-away so1_triage_eval_* database, emptied per case."""
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"so1_triage_eval_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = build_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield truncating(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def truncating(url: str) -> FreshDatabase:
    """Empty the migrated PostgreSQL database at ``url`` on each call (tables stay)."""
    tables = [t.name for t in metadata.sorted_tables] + list(JOB_ENGINE_TABLES)
    statement = text(
        f"TRUNCATE {', '.join(repr_ident(t) for t in tables)} RESTART IDENTITY CASCADE"
    )

    def fresh() -> str:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(statement)
        engine.dispose()
        return url

    return fresh


def repr_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
