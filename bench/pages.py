"""Web page server time with a big record: 1,000 incidents (50 open) and 100,000 alerts.

    .venv/bin/python bench/pages.py [--incidents 1000] [--open 50] [--alerts 100000] [--requests 30]

Builds a temp SQLite database at the latest schema, bulk-loads the record (incidents through
the service, so ids and stamps are real; alerts with one multi-row INSERT per 5,000), signs
in, then times each page in-process (ASGI app, no network: server time) against a do-nothing
baseline measured in the same run (`GET /v1/health`). Prints p50/p95 and the ratio; writes
bench/results/pages-<ts>.json. Target: every page under 200 ms p95.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import insert

from so1.adapters.clock import FixedClock
from so1.adapters.db import migrate
from so1.adapters.db.intake_tables import alerts
from so1.bootstrap import build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.incidents import IncidentStatus
from so1.domain.severity import Severity
from so1.entrypoints.api.app import create_app
from so1.services.access import keys as access
from so1.services.incidents.lifecycle import (
    IncidentPatch,
    NewIncident,
    create_incident,
    update_incident,
)
from so1.services.incidents.recording import Actor

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ONCALL = Path(__file__).resolve().parents[1] / "docs" / "examples" / "oncall.yaml"


def seed(container, incidents: int, open_count: int, alert_count: int) -> list[str]:  # type: ignore[no-untyped-def]
    actor, ids = Actor("bench"), []
    clock: FixedClock = container.clock
    for n in range(incidents):
        clock.set(NOW - timedelta(minutes=5 * (incidents - n)))
        made = create_incident(
            container.uow,
            clock,
            actor,
            NewIncident(f"incident {n}", list(Severity)[n % 5], service=f"svc-{n % 40}"),
        )
        if n < incidents - open_count:
            update_incident(
                container.uow, clock, actor, made.id, IncidentPatch(status=IncidentStatus.RESOLVED)
            )
        ids.append(made.id)
    clock.set(NOW)
    rows: list[dict[str, object]] = [
        {
            "id": f"alt_{i:012d}",
            "source": "events",
            "dedup_key": f"k{i}",
            "status": "resolved" if i % 10 else "firing",
            "summary": f"alert {i} on svc-{i % 40}",
            "service": f"svc-{i % 40}",
            "labels": {},
            "details": {},
            "is_test": False,
            "dedup_count": 1 + i % 7,
            "incident_id": ids[i % len(ids)],
            "first_seen_at": NOW - timedelta(seconds=i),
            "last_seen_at": NOW - timedelta(seconds=i),
            "triage_state": "done",
        }
        for i in range(alert_count)
    ]
    with container.engine.begin() as conn:
        for start in range(0, len(rows), 5_000):
            conn.execute(insert(alerts), rows[start : start + 5_000])
    return ids


def timed(client: TestClient, path: str, requests: int) -> list[float]:
    client.get(path)  # warm
    out = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--open", type=int, default=50)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="so1-bench-pages-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'so1.db'}",
        triage_worker=False,
        delivery_worker=False,
        runbook_clocks=False,
        auth_cache_seconds=5,
    )
    container = build_container(settings, clock=FixedClock(NOW))
    migrate.upgrade(container.engine)
    started = time.perf_counter()
    ids = seed(container, args.incidents, args.open, args.alerts)
    print(
        f"seeded {args.incidents} incidents ({args.open} open) and {args.alerts} alerts "
        f"in {time.perf_counter() - started:.0f} s"
    )
    token = access.create_key(
        container.uow, container.clock, Actor("bench"), "bench", frozenset({Scope.ADMIN})
    ).token
    client = TestClient(create_app(container), follow_redirects=False)
    form = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    client.post(
        "/login",
        content=f"api_key={token}&csrf={form.group(1) if form else ''}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    client.headers["Authorization"] = f"Bearer {token}"
    oncall = yaml.load(ONCALL.read_text(), Loader=yaml.BaseLoader)  # three schedules
    assert client.put("/v1/oncall/config", json=oncall).status_code == 200
    pages = {
        "baseline GET /v1/health": "/v1/health",
        "dashboard /": "/",
        "fragment /partials/incidents": "/partials/incidents",
        "incident page (open)": f"/incidents/{ids[-1]}",
        "incident page (resolved, 100 alerts)": f"/incidents/{ids[0]}",
        "charts fragment (open incident)": f"/partials/incidents/{ids[-1]}/charts",
        "alerts /alerts": "/alerts",
        "on-call calendar /oncall": "/oncall",
    }
    results = {}
    for label, path in pages.items():
        samples = timed(client, path, args.requests)
        results[label] = {
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(sorted(samples)[int(len(samples) * 0.95) - 1], 1),
        }
    base = results["baseline GET /v1/health"]["p50_ms"]
    print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'x baseline':>10}")
    for label, figures in results.items():
        ratio = figures["p50_ms"] / base if base else 0
        print(f"{label:40} {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f} {ratio:10.1f}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"pages-{stamp}.json").write_text(
        json.dumps({"args": vars(args), "results": results}, indent=2)
    )
    container.close()


if __name__ == "__main__":
    main()
