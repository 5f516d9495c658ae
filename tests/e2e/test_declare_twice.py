"""Declaring is idempotent (issue 15, item 2): a second declaration sends nothing that the
outbox already holds, and answers 200 with ``already_declared`` and what was done before,
when and by whom. The outbox is the record of "sent": a declaration whose messages are still
waiting (the process died after the commit) is not sent again, and each is delivered once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.services.declaration.outbox import deliver_due
from tests.e2e.conftest import Cli
from tests.e2e.test_api_commander import SEED_ID, SEED_INPUTS, declare, messages, seed_incident
from tests.e2e.test_severity_changes import set_up


def declare_again(api: TestClient, **changes: Any) -> dict[str, Any]:
    body = {"agent": "incident-commander", "inputs": {**SEED_INPUTS, **changes}}
    response = api.post("/v1/orchestrate", json=body)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def test_a_second_declare_sends_nothing_and_says_what_was_done(
    quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container, severity="SEV1", commander="bo")
    before = messages(quiet_api)
    assert {m["to"] for m in before} == {"war_room", "status_page", "pager"}
    assert deliver_due(container.uow, container.clock, container.adapters.messengers) == len(before)

    run = declare_again(quiet_api, severity="SEV1", commander="bo")
    assert (run["status"], run["already_declared"]) == ("completed", True)
    output = run["output"]
    assert output["already_declared"] is True
    assert (output["declared_by"], output["channel"], output["commander"]) == (
        "admin",
        "#incident-20240115-0042",
        "bo",
    )
    assert output["declared_at"].startswith(before[0]["created_at"][:19])
    assert sorted((m["to"], m["kind"]) for m in output["sent"]) == sorted(
        (m["to"], m["kind"]) for m in before
    )
    after = messages(quiet_api)
    assert len(after) == len(before)
    assert deliver_due(container.uow, container.clock, container.adapters.messengers) == 0
    timeline = quiet_api.get(f"/v1/incidents/{SEED_ID}/timeline").json()["events"]
    assert [e["kind"] for e in timeline].count("war_room.opened") == 1
    assert any("already declared" in e["summary"] for e in timeline)


def test_a_declaration_still_waiting_for_delivery_is_delivered_once(
    quiet_api: TestClient, container: Container
) -> None:
    """The first declaration committed, nothing delivered yet (as after a crash): a second
    declaration adds nothing, and delivery sends each message once."""
    set_up(quiet_api, container)
    queued = messages(quiet_api)
    assert {m["status"] for m in queued} == {"pending"}
    again = declare_again(quiet_api, severity="SEV0")  # a different severity is not a change
    assert again["already_declared"] is True
    assert len(messages(quiet_api)) == len(queued)
    assert quiet_api.get(f"/v1/incidents/{SEED_ID}").json()["severity"] == "SEV2"
    assert deliver_due(container.uow, container.clock, container.adapters.messengers) == len(queued)
    assert deliver_due(container.uow, container.clock, container.adapters.messengers) == 0
    assert [m["status"] for m in messages(quiet_api)] == ["sent"] * len(queued)


def test_the_cli_says_it_was_already_declared(
    server_cli: Cli, quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container)
    count = len(messages(quiet_api))
    said = server_cli("incident", "declare", SEED_ID).assert_ok()
    assert "already declared" in said.stdout and "nothing sent again" in said.stdout
    assert len(messages(quiet_api)) == count


def test_a_second_declare_naming_a_commander_gives_command_when_no_one_has_it(
    quiet_api: TestClient, container: Container
) -> None:
    """Declared with no one on call (as triage declares on a fresh server): no commander.
    The seed's declaration, naming its commander, then hands that person command, and
    still sends nothing again."""
    seed_incident(container)
    first = declare(quiet_api, commander=None)["output"]
    assert first["commander"] is None
    sent = messages(quiet_api)

    run = declare_again(quiet_api)  # the seed's inputs: "commander": "oncall-backend"
    output = run["output"]
    assert (output["already_declared"], output["commander"]) == (True, "oncall-backend")
    assert "@oncall-backend is commander" in output["commander_request"]
    assert quiet_api.get(f"/v1/incidents/{SEED_ID}").json()["commander"] == "oncall-backend"
    roles = quiet_api.get(f"/v1/incidents/{SEED_ID}/participants").json()
    assert any((p["handle"], p["role"]) == ("oncall-backend", "commander") for p in roles)
    assert len(messages(quiet_api)) == len(sent)


def test_a_second_declare_never_takes_command_from_the_commander(
    quiet_api: TestClient, container: Container
) -> None:
    set_up(quiet_api, container, severity="SEV1", commander="bo")
    output = declare_again(quiet_api, severity="SEV1", commander="al")["output"]
    assert output["commander"] == "bo"
    assert "@bo already commands" in output["commander_request"]
    assert "/participants" in output["commander_request"]
    assert quiet_api.get(f"/v1/incidents/{SEED_ID}").json()["commander"] == "bo"


def test_the_cli_says_who_took_command_on_a_second_declare(
    server_cli: Cli, quiet_api: TestClient, container: Container
) -> None:
    seed_incident(container)
    declare(quiet_api, commander=None)
    said = server_cli("incident", "declare", SEED_ID, "--commander", "@oncall-backend")
    assert "nothing sent again" in said.assert_ok().stdout
    assert "@oncall-backend is commander, as requested" in said.stdout
