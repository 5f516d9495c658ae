"""The `so1` command line against a live server, on both database backends."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from so1.adapters.clock import FixedClock
from tests.e2e.conftest import TOKEN_RE, Cli


def call(base_url: str, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        return client.request(method, path, headers=headers, **kwargs)


def status_of(base_url: str, token: str) -> int:
    return call(base_url, token, "GET", "/v1/incidents").status_code


def new_key(cli: Cli, name: str, scopes: str) -> str:
    result = cli("keys", "create", "--name", name, "--scopes", scopes).assert_ok()
    token = result.last_line
    assert TOKEN_RE.fullmatch(token), result.stdout
    return token


def key_id(token: str) -> str:
    return token.split("_")[1]


def flat(text: str) -> str:
    """Whitespace-normalised text, so a wrapped message still reads as one sentence."""
    return " ".join(text.split())


# --- keys: the first through the database, the rest through the server ------------------


def test_keys_create_prints_key_last_and_it_authenticates(cli: Cli, live_server: str) -> None:
    result = cli("keys", "create", "--name", "ci-bot", "--scopes", "read").assert_ok()
    token = result.last_line
    assert TOKEN_RE.fullmatch(token)
    assert result.stdout.count(token) == 1
    assert "ci-bot" in result.stdout.splitlines()[0]
    assert "SO1_API_URL is not set" in result.stderr
    assert cli.db_url.split("@")[-1].split("/")[-1] in result.stderr  # names the database

    assert status_of(live_server, token) == 200
    body = {"title": "read-only key tries to write", "severity": "SEV3"}
    denied = call(live_server, token, "POST", "/v1/incidents", json=body)
    assert denied.status_code == 403
    assert "write" in denied.json()["detail"]


def test_keys_create_through_the_server_when_api_url_is_set(
    server_cli: Cli, live_server: str
) -> None:
    server_cli.db_url = "sqlite:///never-touched.db"
    result = server_cli("keys", "create", "--name", "remote", "--scopes", "read,deploy")
    token = result.assert_ok().last_line
    assert "SO1_API_URL is not set" not in result.stderr
    me = call(live_server, token, "GET", "/v1/keys/me").json()
    assert (me["name"], me["scopes"]) == ("remote", ["deploy", "read"])
    assert not Path("never-touched.db").exists()

    server_cli.api_key = token  # not an admin key
    refused = flat(server_cli("keys", "create", "--name", "x").assert_clean_failure())
    assert "admin" in refused


def test_keys_create_refuses_unknown_scope(cli: Cli) -> None:
    result = cli("keys", "create", "--name", "x", "--scopes", "read,root")
    assert "root" in flat(result.assert_clean_failure(code=2))


def test_keys_list_table_and_json_without_secrets(server_cli: Cli) -> None:
    tokens = [new_key(server_cli, "reader", "read"), new_key(server_cli, "deployer", "read,deploy")]
    secrets = [t.split("_", 2)[2] for t in tokens]

    server_cli.columns = 200
    table = server_cli("keys", "list").assert_ok().stdout
    for token, name in zip(tokens, ("reader", "deployer"), strict=True):
        assert key_id(token) in table
        assert name in table
    assert "deploy,read" in table

    listed = json.loads(server_cli("keys", "list", "--json").assert_ok().stdout)
    by_id = {k["id"]: k for k in listed}
    assert {key_id(t) for t in tokens} < set(by_id)  # beside the fixture's admin key
    assert by_id[key_id(tokens[1])]["scopes"] == "deploy,read"
    assert by_id[key_id(tokens[0])]["created_at"] == "2024-01-15T14:45:00Z"
    assert by_id[key_id(tokens[0])]["revoked_at"] is None
    for output in (table, json.dumps(listed)):
        assert not any(s in output for s in secrets)
        assert "hash" not in output


def test_keys_list_keeps_ids_whole_at_80_columns(server_cli: Cli) -> None:
    tokens = [new_key(server_cli, f"a-rather-long-key-name-{n}", "read,write") for n in range(2)]
    table = server_cli("keys", "list").assert_ok().stdout
    for token in tokens:
        assert key_id(token) in table
    assert max(len(line) for line in table.splitlines()) <= 80


def test_keys_revoke_makes_the_key_401(server_cli: Cli, live_server: str) -> None:
    token = new_key(server_cli, "leaked", "read,write")
    assert status_of(live_server, token) == 200

    server_cli("keys", "revoke", key_id(token)).assert_ok()
    assert status_of(live_server, token) == 401

    admin = server_cli.api_key
    server_cli.api_key = token
    assert "API key" in flat(server_cli("incident", "list").assert_clean_failure())
    server_cli.api_key = admin
    again = server_cli("keys", "revoke", key_id(token)).assert_clean_failure()
    assert "already revoked" in flat(again)
    missing = server_cli("keys", "revoke", "0" * 16).assert_clean_failure()
    assert "does not exist" in flat(missing)


def test_keys_rotate_keeps_old_key_for_the_grace_period(
    server_cli: Cli, live_server: str, clock: FixedClock
) -> None:
    old = new_key(server_cli, "ci", "read")
    result = server_cli("keys", "rotate", key_id(old)).assert_ok()
    new = result.last_line
    assert TOKEN_RE.fullmatch(new)
    assert new != old
    assert old not in result.stdout
    assert "until 2024-01-16 14:45Z" in flat(result.stdout)  # the old key lasts a day

    assert status_of(live_server, new) == 200
    assert status_of(live_server, old) == 200
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert status_of(live_server, old) == 200
    clock.advance(timedelta(seconds=1))
    assert status_of(live_server, old) == 401
    assert status_of(live_server, new) == 200
    gone = server_cli("keys", "rotate", key_id(old)).assert_clean_failure()
    assert "no longer usable" in flat(gone)


# --- incidents ------------------------------------------------------------------------------


def test_incident_create_list_show_update(server_cli: Cli, live_server: str) -> None:
    created = server_cli(
        "incident", "create", "--title", "Connection pool exhausted", "--severity", "sev2",
        "--service", "control-plane-api", "--json",
    ).assert_ok()  # fmt: skip
    incident = json.loads(created.stdout)
    inc_id = incident["id"]
    assert inc_id == "INC-20240115-0001"
    assert (incident["severity"], incident["status"]) == ("SEV2", "triggered")

    plain = server_cli("incident", "create", "--title", "Slow queries", "--severity", "SEV3")
    printed = plain.assert_ok().stdout
    assert "recorded INC-20240115-0002 (SEV3, triggered)" in printed
    assert "declared" not in printed.replace("so1 incident declare", "")

    page = json.loads(server_cli("incident", "list", "--json").assert_ok().stdout)
    assert page["total"] == 2
    assert [i["id"] for i in page["items"]] == ["INC-20240115-0002", inc_id]
    only = json.loads(server_cli("incident", "list", "--severity", "SEV2", "--json").stdout)
    assert [i["id"] for i in only["items"]] == [inc_id]
    server_cli.columns = 200
    table = server_cli("incident", "list").assert_ok().stdout
    assert inc_id in table
    assert "Connection pool exhausted" in table

    updated = server_cli("incident", "update", inc_id, "--status", "investigating", "--json")
    assert json.loads(updated.assert_ok().stdout)["status"] == "investigating"
    resolved = server_cli(
        "incident", "update", inc_id, "--status", "resolved",
        "--resolution-summary", "Increased connection pool size", "--json",
    ).assert_ok()  # fmt: skip
    body = json.loads(resolved.stdout)
    assert body["status"] == "resolved"
    assert body["resolution_summary"] == "Increased connection pool size"
    assert body["resolved_at"].startswith("2024-01-15T14:45:00")

    shown = json.loads(server_cli("incident", "show", inc_id, "--json").assert_ok().stdout)
    assert shown["incident"]["status"] == "resolved"
    kinds = [e["kind"] for e in shown["timeline"]["events"]]
    assert kinds[0] == "incident.recorded"
    assert "incident.declared" not in kinds  # created as triggered: never declared
    assert len(kinds) >= 3
    record = server_cli("incident", "show", inc_id).assert_ok().stdout
    assert "Increased connection pool size" in record
    assert "Timeline" in record


def test_incident_update_with_the_seeds_resolved_at(
    server_cli: Cli, live_server: str, admin_token: str
) -> None:
    body = {"title": "DB pool", "severity": "SEV2", "detected_at": "2024-01-15T13:50:00Z"}
    inc_id = call(live_server, admin_token, "POST", "/v1/incidents", json=body).json()["id"]
    result = server_cli(
        "incident", "update", inc_id, "--status", "resolved",
        "--resolution-summary", "Increased connection pool size",
        "--resolved-at", "2024-01-15T14:30:00Z",
    ).assert_ok()  # fmt: skip
    assert f"{inc_id}: SEV2, resolved" in result.stdout
    stored = call(live_server, admin_token, "GET", f"/v1/incidents/{inc_id}").json()
    assert stored["resolved_at"] in ("2024-01-15T14:30:00Z", "2024-01-15T14:30:00+00:00")


def test_invalid_transition_is_one_clear_line(server_cli: Cli) -> None:
    created = server_cli("incident", "create", "--title", "t", "--severity", "SEV3", "--json")
    inc_id = json.loads(created.assert_ok().stdout)["id"]
    server_cli("incident", "update", inc_id, "--status", "resolved").assert_ok()

    failed = server_cli("incident", "update", inc_id, "--status", "mitigating")
    message = failed.assert_clean_failure()
    assert len(message.strip().splitlines()) == 1, message
    assert "closed" in message
    assert "investigating" in message
    assert "mitigating" in message

    nothing = server_cli("incident", "update", inc_id)
    assert "nothing to update" in flat(nothing.assert_clean_failure(code=2))
    missing = server_cli("incident", "show", "INC-20240115-9999")
    assert "does not exist" in flat(missing.assert_clean_failure())


# --- catalog and flags ----------------------------------------------------------------------

CATALOG: dict[str, list[dict[str, Any]]] = {
    "services": [
        {
            "name": "control-plane-api",
            "tier": "critical",
            "owner_team": "platform-team",
            "users": 1500,
            "dependencies": ["postgres-primary", "redis-cache"],
            "baselines": {"error_rate": 0.005, "p99_latency_ms": 300},
        },
        {
            "name": "postgres-primary",
            "tier": "high",
            "owner_team": "data-team",
            "dependencies": [],
            "baselines": {"connection_pool_utilization": 0.6},
        },
    ]
}


def test_catalog_load_then_read_back(
    server_cli: Cli, live_server: str, admin_token: str, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(CATALOG))
    result = server_cli("catalog", "load", str(path)).assert_ok()
    assert "loaded 2 service(s)" in flat(result.stdout)

    for entry in CATALOG["services"]:
        got = call(live_server, admin_token, "GET", f"/v1/services/{entry['name']}")
        assert got.status_code == 200
        body = got.json()
        for field_name, value in entry.items():
            assert body[field_name] == value, field_name

    path.write_text("services:\n  - name: api\n    tier: platinum\n")
    refused = flat(server_cli("catalog", "load", str(path)).assert_clean_failure())
    assert "tier" in refused


def test_catalog_load_bad_files_are_clear_errors(cli: Cli, tmp_path: Path) -> None:
    cli.api_url, cli.api_key = "http://127.0.0.1:9", "so1_0000000000000000_unused"
    cases = {
        "broken.yaml": ("services: [unclosed\n  - name: x", "not valid YAML"),
        "list.yaml": ("- name: api\n  tier: high\n", "expected a top-level 'services:' list"),
        "noname.yaml": ("services:\n  - tier: high\n", "services[0] has no 'name'"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        message = flat(cli("catalog", "load", str(path)).assert_clean_failure())
        assert expected in message
        assert name in message
    absent = flat(cli("catalog", "load", str(tmp_path / "absent.yaml")).assert_clean_failure())
    assert "cannot read" in absent


def test_flags_set_and_list(server_cli: Cli, live_server: str, admin_token: str) -> None:
    created = server_cli("flags", "set", "bulk-execution", "off", "--create").assert_ok()
    assert "bulk-execution is now off" in created.stdout
    flipped = server_cli("flags", "set", "bulk-execution", "on", "--reason", "recovered")
    assert "bulk-execution is now on" in flipped.assert_ok().stdout
    got = call(live_server, admin_token, "GET", "/v1/feature-flags/bulk-execution").json()
    assert got["enabled"] is True

    listed = json.loads(server_cli("flags", "list", "--json").assert_ok().stdout)
    assert [(f["key"], f["enabled"]) for f in listed] == [("bulk-execution", True)]
    server_cli.columns = 200
    assert "bulk-execution" in server_cli("flags", "list").assert_ok().stdout

    unknown = server_cli("flags", "set", "no-such-flag", "off")
    assert "no-such-flag" in flat(unknown.assert_clean_failure())
    assert "on or off" in flat(server_cli("flags", "set", "x", "maybe").assert_clean_failure(2))


# --- connection and credential problems -----------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_server_is_a_clear_error(cli: Cli) -> None:
    cli.api_url, cli.api_key = closed_port_url(), "so1_0000000000000000_whatever"
    message = flat(cli("incident", "list").assert_clean_failure())
    assert cli.api_url in message
    assert "SO1_API_URL" in message


def test_wrong_api_key_is_a_clear_error(server_cli: Cli) -> None:
    for wrong in ("so1_0000000000000000_not-the-secret", "not-even-a-key"):
        server_cli.api_key = wrong
        message = flat(server_cli("incident", "list").assert_clean_failure())
        assert "API key" in message
        assert wrong not in message


def test_missing_api_key_is_a_clear_error(server_cli: Cli) -> None:
    server_cli.api_key = None
    message = flat(server_cli("flags", "list").assert_clean_failure())
    assert "SO1_API_KEY" in message


def test_keys_create_records_the_person(server_cli: Cli) -> None:
    """Both ways of making a key (straight into the database, and through the server) keep
    the person it belongs to; the server lists them."""
    local = {"SO1_API_URL": None, "SO1_API_KEY": None}
    for handle in ("ana", "bo"):
        server_cli("people", "add", handle, "--role", "responder").assert_ok()
    server_cli("keys", "create", "--name", "ana-laptop", "--person", "ana", **local).assert_ok()
    server_cli("keys", "create", "--name", "bo-phone", "--person", "bo").assert_ok()
    server_cli("keys", "create", "--name", "robot").assert_ok()
    listed = json.loads(server_cli("keys", "list", "--json").assert_ok().stdout)
    people = {k["name"]: k["person"] for k in listed}
    assert people["ana-laptop"] == "ana" and people["bo-phone"] == "bo"
    assert people["robot"] is None
    refused = server_cli("keys", "create", "--name", "x", "--person", "nobody")
    assert "person 'nobody' is not in the directory" in refused.assert_clean_failure()
    refused = server_cli("keys", "create", "--name", "x", "--person", "nobody", **local)
    assert "person 'nobody' is not in the directory" in refused.assert_clean_failure()
