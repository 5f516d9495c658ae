"""One CLI, one server: with SO1_API_URL naming a `so1 serve` started in another directory, the
state-changing commands act on that server, and none leaves a database where it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TOKEN_RE
from tests.e2e.test_processes import clean_env, free_port, serving

pytestmark = pytest.mark.slow


def so1(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "so1", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def get(url: str, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_commands_act_on_the_server_named_by_api_url(tmp_path: Path) -> None:
    server_dir, here = tmp_path / "server", tmp_path / "elsewhere"
    server_dir.mkdir()
    here.mkdir()
    with serving(server_dir, clean_env()) as server:
        [admin] = TOKEN_RE.findall(server.output())
        env = clean_env(SO1_API_URL=server.url, SO1_API_KEY=admin)

        made = ok(so1(here, env, "keys", "create", "--name", "ci-bot", "--scopes", "read"))
        ci_token = made.strip().splitlines()[-1]
        assert get(server.url, ci_token, "/v1/keys/me").json()["name"] == "ci-bot"

        added = ok(so1(here, env, "integrations", "add", "datadog", "--name", "prod"))
        secret = added.strip().splitlines()[-1]
        [integration] = get(server.url, admin, "/v1/integrations").json()
        assert integration["name"] == "prod"
        refused = httpx.post(f"{server.url}/v1/webhooks/datadog", json={}, timeout=10)
        assert refused.status_code == 401
        accepted = httpx.post(
            f"{server.url}/v1/webhooks/datadog",
            headers={"X-SO1-Token": secret},
            json={"id": "1", "title": "db pool", "alert_transition": "Triggered"},
            timeout=10,
        )
        assert accepted.status_code != 401, accepted.text

        link = ok(so1(here, env, "login-link")).strip().splitlines()[-1]
        assert link.startswith(f"{server.url}/login/")
        signed_in = httpx.get(link, follow_redirects=False, timeout=10)
        assert signed_in.status_code == 303 and "so1_session=" in signed_in.headers["set-cookie"]

        rotated = ok(so1(here, env, "security", "rotate", "--yes"))
        assert get(server.url, admin, "/v1/keys/me").status_code == 401
        assert get(server.url, ci_token, "/v1/keys/me").status_code == 401
        fresh = rotated.strip().splitlines()[-1].split("SO1_API_KEY=", 1)[1]
        assert get(server.url, fresh, "/v1/keys/me").json()["name"] == "bootstrap-admin"

        status = ok(so1(here, clean_env(SO1_API_URL=server.url, SO1_API_KEY=fresh), "status"))
        assert str(server_dir / "so1.db") in status
    assert sorted(p.name for p in here.iterdir()) == []
    assert (server_dir / "so1.db").exists()


def test_client_commands_without_a_server_leave_no_database(tmp_path: Path) -> None:
    env = clean_env(SO1_API_URL=f"http://127.0.0.1:{free_port()}", SO1_API_KEY="so1_0_x")
    for args in (
        ("login-link",),
        ("integrations", "add", "datadog"),
        ("security", "rotate", "--yes"),
        ("keys", "list"),
    ):
        done = so1(tmp_path, env, *args)
        assert done.returncode == 1, done
        assert "SO1_API_URL" in done.stderr and "Traceback" not in done.stderr
    no_url = so1(tmp_path, clean_env(SO1_API_KEY="so1_0_x"), "login-link")
    assert "cannot reach SO1 at http://127.0.0.1:8000" in no_url.stderr
    worker = so1(tmp_path, clean_env(), "worker")
    assert worker.returncode == 1
    assert f"no database at {tmp_path / 'so1.db'}" in " ".join(worker.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_serve_names_its_database_and_where_the_cli_should_point(tmp_path: Path) -> None:
    with serving(tmp_path, clean_env()) as server:
        said = server.output()
        database = tmp_path / "so1.db"
        assert f"database: sqlite:///./so1.db (a new SQLite file, created now: {database})" in said
        assert f"export SO1_API_URL={server.url}" in said  # not the default port
    with serving(tmp_path, clean_env(SO1_API_URL="http://127.0.0.1:1")) as again:
        assert "database: sqlite:///./so1.db\n" in again.output()
        assert f"export SO1_API_URL={again.url}" in again.output()
