"""GET /v1/system/runtime: the settings a client needs to work with this server's runbook
(what `so1 demo --api-url` checks before it writes into a server), for admins only."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.access import Scope
from tests.conftest import make_key
from tests.e2e.test_api_admin import as_key


def test_runtime_names_the_platform_and_how_fast_gates_judge(
    api: TestClient, container: Container
) -> None:
    container.settings.stability_minutes = 0.25
    container.settings.local_platform_root = "relative-root"
    runtime = api.get("/v1/system/runtime")
    assert runtime.status_code == 200, runtime.text
    body = runtime.json()
    assert body["platform"] == container.settings.platform
    assert body["local_platform_root"] == str(Path("relative-root").absolute())
    assert body["supervisor_url"] == container.settings.supervisor_url
    assert (body["stability_minutes"], body["clock_seconds"]) == (
        0.25,
        container.settings.clock_seconds,
    )
    assert body["runbook_clocks"] is container.settings.runbook_clocks
    assert not any("password" in name or "token" in name for name in body)
    writer = as_key(container, make_key(container, Scope.WRITE, name="w"))
    refused = writer.get("/v1/system/runtime")
    assert refused.status_code == 403
    assert "admin" in refused.text
