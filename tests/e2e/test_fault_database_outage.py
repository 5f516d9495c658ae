"""Fault: PostgreSQL goes away under load. `so1 serve` reaches the database through a TCP
proxy this test runs; cutting it drops every connection and refuses new ones. Meanwhile
requests are answered 503 (never 500, never left hanging), and once the proxy is back the
same server process answers 202 again; every alert answered 202 is stored."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.fault_support import AlertLoad, Alerts, proxy_to, wait_until
from tests.e2e.test_processes import clean_env, serving, so1_keys_create

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

OUTAGE_SECONDS = 6.0


def test_database_outage_gets_503s_then_recovers_without_a_restart(
    postgres_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_url)
    real = make_url(postgres_url)
    alerts = Alerts(postgres_url)
    with proxy_to(real.host or "127.0.0.1", real.port or 5432) as proxy:
        through = real.set(port=proxy.port).render_as_string(hide_password=False)
        env = clean_env(
            SO1_DATABASE_URL=through, SO1_LOG_LEVEL="warning", SO1_AUTH_CACHE_SECONDS="1"
        )
        token = so1_keys_create(tmp_path, env)
        with serving(tmp_path, env) as server, AlertLoad(server.url, token, threads=4) as load:
            wait_until(lambda: load.count("202") >= 50, "acknowledged alerts before the outage")
            proxy.cut()
            wait_until(lambda: load.count("503") >= 10, "503s during the outage")
            before = load.count("202")
            time.sleep(OUTAGE_SECONDS)
            during = load.count("202") - before
            proxy.restore()
            back = load.count("202")
            wait_until(lambda: load.count("202") >= back + 50, "202s after the outage")
            assert server.proc.poll() is None, "the server died"
            health = httpx.get(f"{server.url}/v1/health", timeout=10).status_code
        acked = set(load.acked)
    try:
        stored = alerts.keys("load")
    finally:
        alerts.close()
    assert during == 0, f"{during} alerts acknowledged while the database was away"
    assert acked - stored == set(), f"{len(acked - stored)} acknowledged alerts lost"
    assert set(load.statuses) == {"202", "503"}, load.statuses  # no 500, no request left hanging
    assert health == 200
