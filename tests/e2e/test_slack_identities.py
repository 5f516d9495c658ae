"""Slack users act as the people they are linked to, against the local Slack Web API
(users.info and users.lookupByEmail as Slack documents them): linked by email on first use,
or by an admin's explicit mapping; an unknown Slack user, or a disabled person, is told how
to get linked and nothing is done, and the refusal is audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.adapters.chat.slack import web_client
from so1.adapters.chat.slack_users import SlackDirectory
from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from tests.contract.test_chat_slack import TOKEN, SlackApi
from tests.e2e.conftest import Cli
from tests.e2e.test_api_oncall import example
from tests.e2e.test_slack_commands import command, event, slack_api, start_slack

__all__ = ["slack_api"]  # the fixture
ELI = "U01ELI"  # eng-lead in the example directory: eli@example.com, no Slack id there


@pytest.fixture
def slack(container: Container, slack_api: TestClient) -> Iterator[type[SlackApi]]:
    """The local Slack workspace knows Eli and Fay by email; SO1 asks it who users are."""
    server, handler = start_slack()
    handler.users.update(
        {
            ELI: {"email": "eli@example.com", "name": "eli"},
            "U01FAY": {"email": "FAY@example.com".casefold(), "name": "fay"},
        }
    )
    url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    container.adapters.chat_directory = SlackDirectory(web_client(TOKEN, url))
    slack_api.put("/v1/oncall/config", json=example())
    yield handler
    server.shutdown()
    server.server_close()


def audit(api: TestClient, action: str) -> list[dict[str, Any]]:
    response = api.get("/v1/audit", params={"action": action})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


def people(api: TestClient) -> dict[str, dict[str, Any]]:
    return {p["handle"]: p for p in api.get("/v1/people").json()}


def test_a_slack_user_is_linked_by_email_once_and_acts_as_that_person(
    slack_api: TestClient, clock: FixedClock, slack: type[SlackApi]
) -> None:
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    answer = command(slack_api, clock, 'create SEV2 "API error rate spike"', user=ELI)
    assert answer["response_type"] == "in_channel", answer
    assert slack.calls == [("users.info", {"user": ELI})]
    assert people(slack_api)["eng-lead"]["slack_id"] == ELI  # kept: not asked again
    (linked,) = audit(slack_api, "person.slack_link")
    assert (linked["resource_id"], linked["detail"]["by"]) == ("eng-lead", "email")
    room = "incident-20260107-0001"
    assert command(slack_api, clock, 'update "pool at 100%"', room, user=ELI)["text"] == (
        "update recorded on INC-20260107-0001"
    )
    assert [c[0] for c in slack.calls] == ["users.info"]
    timeline = slack_api.get("/v1/incidents/INC-20260107-0001/timeline").json()["events"]
    said = {e["kind"]: e["actor"] for e in timeline}
    assert said["incident.recorded"] == said["war_room.message"] == "eng-lead"
    assert not any(e["actor"].startswith("slack:") for e in timeline)


def test_an_admin_links_a_person_by_slack_id_or_by_their_email(
    slack_api: TestClient, clock: FixedClock, slack: type[SlackApi]
) -> None:
    made = slack_api.put("/v1/people/cto/slack", json={"slack_id": "U0FAY2"})
    assert (made.status_code, made.json()["slack_id"]) == (200, "U0FAY2")
    taken = slack_api.put("/v1/people/cto/slack", json={"slack_id": "U01ANA"})
    assert taken.status_code == 409 and "oncall-backend" in taken.json()["detail"]
    by_email = slack_api.put("/v1/people/eng-lead/slack", json={})
    assert (by_email.status_code, by_email.json()["slack_id"]) == (200, ELI)
    assert ("users.lookupByEmail", {"email": "eli@example.com"}) in slack.calls
    nobody = slack_api.post("/v1/people", json={"handle": "gus", "email": "gus@example.com"})
    assert nobody.status_code == 201
    missing = slack_api.put("/v1/people/gus/slack", json={})
    assert missing.status_code == 404 and "gus@example.com" in missing.json()["detail"]
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    answer = command(slack_api, clock, 'create SEV3 "Slow search"', user="U0FAY2")
    assert answer["response_type"] == "in_channel", answer
    incident = slack_api.get("/v1/incidents/INC-20260107-0001/timeline").json()["events"]
    assert incident[0]["actor"] == "cto"
    assert slack_api.delete("/v1/people/cto/slack").json()["slack_id"] is None
    after = command(slack_api, clock, "status INC-20260107-0001", user="U0FAY2")
    assert "SO1 does not know who you are" in after["text"]


def test_an_unknown_slack_user_is_told_how_to_link_and_nothing_happens(
    slack_api: TestClient, clock: FixedClock, slack: type[SlackApi]
) -> None:
    answer = command(slack_api, clock, 'create SEV1 "Checkout down"', user="U0STRANGER")
    assert answer["response_type"] == "ephemeral"
    assert "SO1 does not know who you are (Slack user U0STRANGER)" in answer["text"]
    assert "so1 people link-slack YOUR-HANDLE U0STRANGER" in answer["text"]
    assert slack_api.get("/v1/incidents").json()["total"] == 0
    (refused,) = audit(slack_api, "chat.refused")
    assert (refused["actor"], refused["resource_id"]) == ("slack:U0STRANGER", "U0STRANGER")
    assert (refused["detail"]["reason"], refused["detail"]["command"]) == ("not linked", "create")
    assert not any(p["slack_id"] == "U0STRANGER" for p in people(slack_api).values())


def test_a_disabled_person_is_refused_from_slack_and_their_eyes_acknowledge_nothing(
    slack_api: TestClient, clock: FixedClock, slack: type[SlackApi], container: Container
) -> None:
    clock.set(datetime(2026, 1, 7, 12, tzinfo=UTC))
    command(slack_api, clock, 'create SEV2 "API error rate spike"')  # Ana declares
    assert slack_api.post("/v1/people/eng-lead/disable").status_code == 200
    refused = command(slack_api, clock, 'resolve INC-20260107-0001 "done"', user=ELI)
    assert refused == {
        "response_type": "ephemeral",
        "text": "Your SO1 account (@eng-lead) is disabled: ask an SO1 admin.",
    }
    assert slack_api.get("/v1/incidents/INC-20260107-0001").json()["status"] == "investigating"
    (record,) = audit(slack_api, "chat.refused")
    assert (record["detail"]["reason"], record["detail"]["person"]) == ("disabled", "eng-lead")
    message = slack_api.get("/v1/incidents/INC-20260107-0001/messages").json()[0]
    with container.uow() as uow:  # as if Slack had taken it: it has a ref now
        uow.outbox.mark_sent(message["id"], clock.now(), {"ref": "slack:C1:1.000001"})
        uow.commit()
    slack.channels["C1"] = {"id": "C1", "name": "incident-20260107-0001", "messages": []}
    item = {"channel": "C1", "ts": "1.000001", "type": "message"}
    for user in (ELI, "U0STRANGER"):
        inner = {"type": "reaction_added", "user": user, "reaction": "eyes", "item": item}
        document = {"type": "event_callback", "event": inner}
        assert event(slack_api, clock, document)["acknowledged"] is None
    assert slack_api.get("/v1/incidents/INC-20260107-0001").json()["acknowledged_at"] is None
    reasons = [r["detail"]["reason"] for r in audit(slack_api, "chat.refused")]
    assert sorted(reasons) == ["disabled", "disabled", "not linked"]
    told = slack.channels["C1"]["ephemeral"]  # each told privately, in the war room
    assert [who for who, _ in told] == [ELI, "U0STRANGER"]
    assert "disabled" in told[0][1] and "link-slack YOUR-HANDLE U0STRANGER" in told[1][1]


def test_link_slack_from_the_cli(server_cli: Cli, slack_api: TestClient) -> None:
    slack_api.put("/v1/oncall/config", json=example())
    done = server_cli("people", "link-slack", "cto", "U0FAY3").assert_ok()
    assert "cto is Slack user U0FAY3" in done.stdout
    assert people(slack_api)["cto"]["slack_id"] == "U0FAY3"
    gone = server_cli("people", "unlink-slack", "cto").assert_ok()
    assert "cto is linked to no Slack user" in gone.stdout
    assert people(slack_api)["cto"]["slack_id"] is None
