"""The security-breach playbook: rotate everything at once, export the audit log, and an
evidence bundle whose hashes are on the timeline."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.alerts import AlertSource
from so1.domain.severity import Severity
from so1.entrypoints.api.app import create_app
from so1.errors import So1Error
from so1.services.incidents.recording import Actor
from so1.services.intake.integrations import add_integration, list_integrations
from tests.conftest import make_key, open_incident
from tests.e2e.conftest import Cli


def client(container: Container, token: str) -> TestClient:
    made = TestClient(create_app(container), raise_server_exceptions=False)
    made.headers["Authorization"] = f"Bearer {token}"
    return made


def test_rotate_everything_stops_every_old_secret_now(
    api: TestClient, container: Container, admin_token: str
) -> None:
    reader_token = make_key(container, Scope.READ, name="dashboard")
    hook = add_integration(container.uow, container.clock, Actor("t"), AlertSource.DATADOG, "dd")
    answer = api.post("/v1/security/rotate")
    assert answer.status_code == 200, answer.text
    rotated = answer.json()
    names = {k["name"]: k for k in rotated["keys"]}
    assert set(names) == {"admin", "dashboard"}
    assert names["dashboard"]["scopes"] == ["read"]
    assert client(container, admin_token).get("/v1/incidents").status_code == 401
    assert client(container, reader_token).get("/v1/incidents").status_code == 401
    assert client(container, names["admin"]["token"]).get("/v1/incidents").status_code == 200
    [new_secret] = rotated["integrations"]
    assert new_secret["id"] == hook.id and new_secret["secret"] != hook.secret
    [stored] = list_integrations(container.uow)
    assert stored.valid_secrets(container.clock.now() + timedelta(seconds=1)) == [
        new_secret["secret"]
    ]


def test_audit_export_is_json_lines_for_the_window(api: TestClient, container: Container) -> None:
    now = container.clock.now()
    api.put("/v1/feature-flags/bulk-execution", json={"enabled": True})
    exported = api.get("/v1/audit/export", params={"start": (now - timedelta(hours=1)).isoformat()})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert "flag.set" in [line["action"] for line in lines]
    later = api.get(
        "/v1/audit/export",
        params={
            "start": (now + timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=2)).isoformat(),
        },
    )
    assert later.text == ""
    backwards = api.get(
        "/v1/audit/export",
        params={"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()},
    )
    assert backwards.status_code == 422
    viewer = client(container, make_key(container, Scope.READ, Scope.WRITE))
    assert viewer.get("/v1/audit/export", params={"start": now.isoformat()}).status_code == 403


def test_evidence_bundle_hashes_match_and_are_on_the_timeline(
    api: TestClient, container: Container
) -> None:
    incident = open_incident(container, "Credential leak", Severity.SEV0, service="api")
    answer = api.post(f"/v1/incidents/{incident.id}/evidence")
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-SO1-SHA256"] == hashlib.sha256(answer.content).hexdigest()
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert set(manifest["sha256"]) == {
        "incident.json",
        "timeline.json",
        "alerts.json",
        "messages.json",
        "audit.jsonl",
    }
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert json.loads(archive.read("incident.json"))["title"] == "Credential leak"
    events = api.get(f"/v1/incidents/{incident.id}/timeline").json()["events"]
    [logged] = [e for e in events if e["kind"] == "evidence.bundle"]
    assert logged["data"]["sha256"] == answer.headers["X-SO1-SHA256"]
    no_clearance = client(container, make_key(container, Scope.READ, Scope.WRITE))
    assert no_clearance.post(f"/v1/incidents/{incident.id}/evidence").status_code == 403


def test_so1_security_rotate_needs_yes(
    server_cli: Cli, container: Container, admin_token: str
) -> None:
    refused = server_cli("security", "rotate").assert_clean_failure()
    assert "--yes" in refused
    done = server_cli("security", "rotate", "--yes").assert_ok()
    said = " ".join(done.stdout.split())
    assert f"Rotated 1 API keys and 0 integration secrets on {server_cli.api_url}" in said
    assert client(container, admin_token).get("/v1/incidents").status_code == 401
    exported = done.last_line
    assert exported.startswith("export SO1_API_KEY=so1_")
    fresh = exported.split("=", 1)[1]
    assert client(container, fresh).get("/v1/incidents").status_code == 200


def test_so1_security_new_key_and_seal_secrets(cli: Cli, container: Container) -> None:
    add_integration(container.uow, container.clock, Actor("t"), AlertSource.DATADOG, "prod")
    key = cli("security", "new-key").assert_ok().last_line
    assert len(key) == 44 and key.endswith("=")
    sealed = cli("security", "seal-secrets", SO1_SECRET_KEY=key).assert_ok()
    assert "1 integration secrets and 0 server secrets are now stored sealed" in sealed.stdout
    with container.engine.connect() as conn:
        [stored] = conn.execute(text("SELECT secret FROM integrations")).scalars()
    assert str(stored).startswith("fernet:")
    with pytest.raises(So1Error, match="SO1_SECRET_KEY is not set"):
        list_integrations(container.uow)
    keyed = build_container(Settings(database_url=container.settings.database_url, secret_key=key))
    try:
        assert [i.name for i in list_integrations(keyed.uow)] == ["prod"]
    finally:
        keyed.close()
    bad = cli("security", "seal-secrets", SO1_SECRET_KEY="nope").assert_clean_failure()
    assert "key 1 is not a Fernet key" in bad


def test_seal_secrets_never_creates_a_database(cli: Cli, tmp_path: Path) -> None:
    absent = tmp_path / "elsewhere" / "so1.db"
    refused = cli("security", "seal-secrets", SO1_DATABASE_URL=f"sqlite:///{absent}")
    message = " ".join(refused.assert_clean_failure().split())
    assert f"no database at {absent}" in message
    assert "SO1_DATABASE_URL" in message
    assert not absent.exists()
