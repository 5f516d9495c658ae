"""What the CLI prints in a terminal: whole ids at 80 and 100 columns, the command's own option
names in errors, help without type tags or internal words, plain values; and the commands
that go through the server: status, integrations, flags, the catalog."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import typer.main

from so1.bootstrap import Container
from so1.domain.access import Scope
from so1.entrypoints.cli import app as cli_app
from tests.conftest import make_key
from tests.e2e.conftest import Cli
from tests.e2e.test_cli import closed_port_url, flat

LONG_TITLE = "Checkout latency above the p99 objective after the payment gateway upgrade"


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found += command_paths(sub, (*prefix, name))
    return found


@pytest.mark.parametrize("columns", [80, 100])
def test_incident_list_keeps_whole_ids_at_the_terminal_width(server_cli: Cli, columns: int) -> None:
    for n in range(3):
        server_cli(
            "incident", "create", "--title", f"{LONG_TITLE} {n}", "--severity", "SEV2",
            "--service", "payments-gateway-eu-west", "--status", "investigating",
        ).assert_ok()  # fmt: skip
    server_cli.columns = columns
    table = server_cli("incident", "list").assert_ok().stdout
    for n in range(1, 4):
        assert f"INC-20240115-000{n}" in table
    assert "…" not in table
    assert max(len(line) for line in table.splitlines()) <= columns
    assert "payments" in table  # the service still shows, wrapped
    if columns == 80:
        assert "detected left out to fit 80 columns" in flat(table)


def test_errors_name_the_commands_options(server_cli: Cli) -> None:
    created = server_cli("incident", "create", "--title", "t", "--severity", "SEV9")
    message = flat(created.assert_clean_failure())
    assert "--severity" in message and "body.severity" not in message
    inc_id = json.loads(
        server_cli("incident", "create", "--title", "t", "--severity", "SEV3", "--json").stdout
    )["id"]
    long_reason = "x" * 2001
    updated = server_cli(
        "incident", "update", inc_id, "--severity", "SEV2", "--reason", long_reason
    )
    message = flat(updated.assert_clean_failure())
    assert "--reason" in message and "severity_reason" not in message
    silence = server_cli("silences", "add", "--match", "service=a", "--reason", long_reason)
    message = flat(silence.assert_clean_failure())
    assert "--reason" in message and "body." not in message


def test_help_has_no_type_tags_or_internal_words(cli: Cli) -> None:
    cli.columns = 120
    root = typer.main.get_command(cli_app)
    for path in command_paths(root):
        shown = cli(*path, "--help").assert_ok().stdout
        for word in ("<str>", "<bool>", "<int", "<float", "<path", "seed", "PATCH", "GET /v1"):
            assert word not in shown, (path, word)
    options = cli("incident", "update", "--help").stdout
    assert re.search(r"--severity\s+TEXT", options)
    assert re.search(r"--json\s+print JSON", options)
    assert "events|pagerduty|datadog" in cli("integrations", "add", "--help").stdout


def test_silences_list_prints_matchers_plainly(server_cli: Cli) -> None:
    added = server_cli(
        "silences", "add", "--match", "service=billing", "--match", "source=datadog",
        "--reason", "db upgrade", "--duration", "120",
    ).assert_ok()  # fmt: skip
    assert "active until 2024-01-15 16:45Z" in flat(added.stdout)
    server_cli.columns = 100
    table = server_cli("silences", "list").assert_ok().stdout
    assert "service=billing" in table and "source=datadog" in table
    assert "{" not in table and "'" not in table
    assert "2024-01-15 16:45Z" in table and "yes" in table


def test_status_names_server_database_key_and_background(
    server_cli: Cli, container: Container
) -> None:
    server_cli.columns = 120
    shown = flat(server_cli("status").assert_ok().stdout)
    assert f"{server_cli.api_url} (SO1_API_URL)" in shown
    assert "healthy (database ok)" in shown
    database = container.engine.url.render_as_string(hide_password=True)
    assert f"{database} ({container.engine.dialect.name})" in shown
    assert "admin (id" in shown and "scopes admin" in shown
    assert "triage 0 waiting; delivery 0 waiting" in shown
    assert "problems none" in shown

    as_json = json.loads(server_cli("status", "--json").assert_ok().stdout)
    assert as_json["key"]["name"] == "admin"
    assert as_json["system"]["database"]["url"] == database

    server_cli.api_key = make_key(container, Scope.READ, name="viewer")
    reader = flat(server_cli("status").assert_ok().stdout)
    assert "viewer (id" in reader and "shown to admin keys only" in reader
    assert database not in reader


def test_status_of_an_unreachable_server_is_a_clear_error(cli: Cli) -> None:
    cli.api_url, cli.api_key = closed_port_url(), "so1_0000000000000000_x"
    message = flat(cli("status").assert_clean_failure())
    assert cli.api_url in message and "SO1_API_URL" in message


def test_integrations_through_the_server(server_cli: Cli) -> None:
    added = server_cli("integrations", "add", "datadog", "--name", "prod").assert_ok()
    secret = added.last_line
    assert len(secret) >= 32 and "X-SO1-Token" in flat(added.stdout)
    listed = json.loads(server_cli("integrations", "list", "--json").assert_ok().stdout)
    [made] = listed
    assert (made["source"], made["name"]) == ("datadog", "prod")
    assert secret not in json.dumps(listed)
    table = server_cli("integrations", "list").assert_ok().stdout
    assert made["id"] in table

    rotated = server_cli("integrations", "rotate", made["id"], "--grace-seconds", "60")
    assert rotated.assert_ok().last_line != secret
    assert "until 2024-01-15 14:46Z" in flat(rotated.stdout)
    server_cli("integrations", "disable", made["id"]).assert_ok()
    state = json.loads(server_cli("integrations", "list", "--json").stdout)[0]["disabled_at"]
    assert state == "2024-01-15T14:45:00Z"
    short = server_cli("integrations", "add", "sentry", "--secret", "short")
    assert "--secret" in flat(short.assert_clean_failure())


def test_flags_need_to_exist_and_say_how_to_create_them(server_cli: Cli) -> None:
    missing = flat(server_cli("flags", "set", "bulk-execution", "off").assert_clean_failure())
    assert "no feature flag 'bulk-execution'" in missing and "--create" in missing
    created = server_cli(
        "flags", "set", "bulk-execution", "on", "--create", "--service", "control-plane-api",
        "--description", "bulk job runner",
    ).assert_ok()  # fmt: skip
    assert "bulk-execution is now on" in created.stdout
    flipped = server_cli("flags", "set", "bulk-execution", "off", "--reason", "pool exhaustion")
    assert "bulk-execution is now off" in flipped.assert_ok().stdout
    [flag] = json.loads(server_cli("flags", "list", "--json").stdout)
    assert (flag["service"], flag["enabled"]) == ("control-plane-api", False)
    typo = flat(server_cli("flags", "set", "bulk-executoin", "on").assert_clean_failure())
    assert "(flags: bulk-execution)" in typo
    stray = server_cli("flags", "set", "x", "on", "--service", "api").assert_clean_failure(2)
    assert "--create" in stray


def test_catalog_list(server_cli: Cli) -> None:
    assert "Services" in server_cli("catalog", "list").assert_ok().stdout
    server_cli.columns = 120
    for name, tier in (("control-plane-api", "critical"), ("postgres-primary", "high")):
        client_call = server_cli("catalog", "list", "--json")
        assert name not in client_call.stdout
        body = json.dumps({"tier": tier, "owner_team": "platform-team"})
        _put_service(server_cli, name, body)
    table = server_cli("catalog", "list").assert_ok().stdout
    assert "control-plane-api" in table and "critical" in table and "platform-team" in table
    listed = json.loads(server_cli("catalog", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["control-plane-api", "postgres-primary"]


def _put_service(cli: Cli, name: str, body: str) -> None:
    import httpx

    answer = httpx.put(
        f"{cli.api_url}/v1/services/{name}",
        content=body,
        headers={"Authorization": f"Bearer {cli.api_key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
