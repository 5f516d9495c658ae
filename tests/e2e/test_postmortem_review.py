"""The postmortem's review follows the runbook (issue 15, item 8): a second reader ticks the
review checks, the published text is no longer a draft, the meeting is on a working day in
the owning team's time zone, and what went well cites only what happened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from so1.adapters.clock import FixedClock
from so1.adapters.publishing.markdown_dir import MarkdownDirectory
from so1.bootstrap import Container, build_container
from so1.config import Settings
from so1.domain.access import Scope
from so1.domain.severity import Severity
from so1.entrypoints.api.app import create_app
from so1.services.access import keys as access
from so1.services.declaration.outbox import deliver_due
from so1.services.incidents.recording import Actor
from so1.services.runbook.clocks import check_clocks
from tests.conftest import ensure_person, open_incident
from tests.e2e.conftest import Cli
from tests.e2e.deployer_support import SERVICE
from tests.e2e.test_api_oncall import example

CHECKS = ("timeline_accurate", "root_cause_validated", "action_items_complete")
DRAFT_WORDING = ("Blameless draft", "(to confirm)", "proposals for the review meeting")
FRIDAY_EVENING = datetime(2024, 1, 19, 18, 30, tzinfo=UTC)  # 19:30 in Berlin
People = Callable[..., TestClient]


def build(db_url: str, clock: FixedClock, **settings: Any) -> Container:
    values: dict[str, Any] = {"database_url": db_url, "db_pool_size": 5, "auth_cache_seconds": 0}
    return build_container(Settings(**values | settings), clock=clock)


@pytest.fixture
def people(container: Container, tmp_path: Path) -> Iterator[People]:
    """``people(name, person=None, on=container)``: an API client holding its own write key."""
    with ExitStack() as stack:

        def client(name: str, person: str | None = None, on: Container = container) -> TestClient:
            on.adapters.postmortems = MarkdownDirectory(tmp_path / "content")
            scopes = frozenset({Scope.READ, Scope.WRITE})
            if person:
                ensure_person(on, person)
            issued = access.create_key(on.uow, on.clock, Actor("t"), name, scopes, person=person)
            api = stack.enter_context(TestClient(create_app(on), raise_server_exceptions=False))
            api.headers["Authorization"] = f"Bearer {issued.token}"
            return api

        yield client


def drafted(container: Container, author: TestClient, title: str = "Checkout latency") -> str:
    """A resolved incident whose draft ``author`` asked for, sent for review by them."""
    incident = open_incident(container, title, Severity.SEV2)
    resolved = author.patch(f"/v1/incidents/{incident.id}", json={"status": "resolved"})
    assert resolved.status_code == 200, resolved.text
    run = author.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident.id}},
    )
    assert run.status_code == 200, run.text
    assert author.post(f"/v1/incidents/{incident.id}/postmortem/submit").status_code == 200
    return f"/v1/incidents/{incident.id}/postmortem"


def tick_all(api: TestClient, base: str) -> None:
    for check in CHECKS:
        assert api.post(f"{base}/checks/{check}").status_code == 200


def test_the_sole_reviewer_author_cannot_publish_a_second_reader_can(
    container: Container, people: People
) -> None:
    alice, bob = people("alice-laptop", "alice"), people("bob-key", "bob")
    base = drafted(container, alice)
    tick_all(alice, base)
    alone = alice.post(f"{base}/publish")
    assert alone.status_code == 409, alone.text
    detail = alone.json()["detail"]
    assert "needs 1 reviewer other than alice (author of v1, publishing)" in detail
    assert "ticked by: Timeline accuracy: alice; Root cause validated: alice" in detail
    assert alice.get(base).json()["status"] == "in_review"  # nothing published

    tick_all(bob, base)
    by_the_reviewer = bob.post(f"{base}/publish")  # the reviewer is not the publisher
    assert by_the_reviewer.status_code == 409
    assert (
        "other than alice (author of v1) and bob (publishing)" in by_the_reviewer.json()["detail"]
    )

    published = alice.post(f"{base}/publish")
    assert published.status_code == 200, published.text
    found = published.json()
    assert found["status"] == "published"
    assert found["review"]["reviewers"] == ["bob"]
    assert found["review"]["published_by"] == "alice"
    text = found["markdown"]
    assert not [w for w in DRAFT_WORDING if w in text], text[:400]
    assert "## What went well\n" in text and "## Where we got lucky\n" in text
    assert "_Reviewed by bob; published by alice on " in text
    assert Path(found["review"]["published_to"]).read_text() == text
    reviewed = found["review"]["revisions"][-1]["markdown"]
    assert "Blameless draft" in reviewed  # the reviewed draft stays in the history


def test_one_person_with_two_keys_is_still_one_person(container: Container, people: People) -> None:
    alice, alice_ci, bob = (
        people("alice-laptop", "alice"),
        people("alice-ci", "alice"),
        people("bob"),
    )
    base = drafted(container, bob)
    tick_all(alice_ci, base)
    refused = alice.post(f"{base}/publish")  # alice ticked (from another key) and publishes
    assert refused.status_code == 409
    assert "alice (publishing)" in refused.json()["detail"]
    by_the_author = bob.post(f"{base}/publish")  # bob wrote it; alice read it
    assert by_the_author.status_code == 200, by_the_author.text
    assert by_the_author.json()["review"]["reviewers"] == ["alice"]


def test_an_edit_after_the_review_needs_a_new_review(container: Container, people: People) -> None:
    alice, bob = people("alice"), people("bob")
    base = drafted(container, alice)
    tick_all(bob, base)
    text = alice.get(base).json()["markdown"]
    edited = alice.post(f"{base}/edits", json={"markdown": text + "\nA late change.\n"})
    assert edited.status_code == 200
    stale = alice.post(f"{base}/publish")
    assert stale.status_code == 409
    detail = stale.json()["detail"]
    assert "of v2" in detail and "Ticks on earlier versions do not count" in detail
    tick_all(bob, base)
    assert alice.post(f"{base}/publish").status_code == 200


def test_the_reviewer_who_edits_becomes_the_author(container: Container, people: People) -> None:
    alice, bob = people("alice"), people("bob")
    base = drafted(container, alice)
    text = alice.get(base).json()["markdown"]
    edited = bob.post(f"{base}/edits", json={"markdown": text + "\nBob's fix.\n"})
    assert edited.status_code == 200
    tick_all(bob, base)
    refused = alice.post(f"{base}/publish")
    assert refused.status_code == 409
    assert "other than bob (author of v2) and alice (publishing)" in refused.json()["detail"]
    tick_all(alice, base)  # alice, who asked for the draft, now reads bob's version
    published = bob.post(f"{base}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["review"]["reviewers"] == ["alice"]


def test_two_reviewers_when_configured(db_url: str, clock: FixedClock, people: People) -> None:
    two = build(db_url, clock, postmortem_reviewers=2)
    try:
        alice, bob = people("alice", on=two), people("bob", on=two)
        carol = people("carol", on=two)
        base = drafted(two, alice)
        tick_all(bob, base)
        tick_all(bob, base)  # ticking twice is still one person
        one = alice.post(f"{base}/publish")
        assert one.status_code == 409
        assert "needs 2 different reviewers" in one.json()["detail"]
        tick_all(carol, base)
        published = alice.post(f"{base}/publish")
        assert published.status_code == 200, published.text
        assert published.json()["review"]["reviewers"] == ["bob", "carol"]
    finally:
        two.close()


def test_bad_reviewer_and_meeting_settings_name_their_variable() -> None:
    from so1.config import load_settings
    from so1.errors import ConfigurationError

    for values, variable in (
        ({"postmortem_reviewers": 0}, "SO1_POSTMORTEM_REVIEWERS"),
        ({"postmortem_meeting_hours": "16-10"}, "SO1_POSTMORTEM_MEETING_HOURS"),
        ({"postmortem_meeting_hours": "ten-four"}, "SO1_POSTMORTEM_MEETING_HOURS"),
    ):
        with pytest.raises(ConfigurationError) as raised:
            load_settings(**values)
        assert variable in str(raised.value)


def resolved_with_a_meeting(
    api: TestClient, clock: FixedClock, container: Container, at: datetime
) -> tuple[str, datetime]:
    """An incident on the backend team's service resolved at ``at``; its meeting's start."""
    clock.set(at)
    incident = open_incident(container, "Checkout latency", Severity.SEV2, service=SERVICE)
    api.patch(f"/v1/incidents/{incident.id}", json={"channel": f"#inc-{incident.id.lower()}"})
    assert api.patch(f"/v1/incidents/{incident.id}", json={"status": "resolved"}).status_code == 200
    invite = api.get(f"/v1/incidents/{incident.id}/postmortem/meeting.ics")
    assert invite.status_code == 200, invite.text
    event = next(c for c in Calendar.from_ical(invite.content).walk("VEVENT"))
    start: datetime = event.decoded("dtstart")
    assert event.decoded("dtend") - start == timedelta(minutes=60)
    return incident.id, start


def test_the_review_meeting_is_on_a_working_day_in_the_teams_hours(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    api.put(f"/v1/services/{SERVICE}", json={"tier": "critical", "owner_team": "backend"})
    incident_id, start = resolved_with_a_meeting(api, clock, container, FRIDAY_EVENING)
    assert start == datetime(2024, 1, 22, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
    run = api.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident_id}},
    )
    assert run.status_code == 200
    said = [
        m["text"]
        for m in api.get(f"/v1/incidents/{incident_id}/messages").json()
        if m["kind"] == "postmortem_meeting"
    ]
    assert len(said) == 1 and "Monday 2024-01-22 10:00 CET (09:00 UTC), 60 min" in said[0]
    berlin = ZoneInfo("Europe/Berlin")
    for hours in range(0, 7 * 24, 5):  # resolved at every time of a week: never a weekend
        resolved = FRIDAY_EVENING + timedelta(hours=hours)
        _, start = resolved_with_a_meeting(api, clock, container, resolved)
        local = start.astimezone(berlin)
        assert local.weekday() < 5, (resolved, local)
        assert 10 <= local.hour <= 15 and local.minute == 0, (resolved, local)
        assert start - resolved >= timedelta(hours=24)


def test_the_meeting_hours_are_configured(db_url: str, clock: FixedClock, people: People) -> None:
    afternoons = build(db_url, clock, postmortem_meeting_hours="13-15")
    try:
        api = people("alice", on=afternoons)
        _, start = resolved_with_a_meeting(api, clock, afternoons, FRIDAY_EVENING)
        assert start == datetime(2024, 1, 22, 13, 0, tzinfo=UTC)  # no owning team: UTC
    finally:
        afternoons.close()


def test_a_never_declared_incident_claims_no_late_notice_as_communication(
    api: TestClient, container: Container, clock: FixedClock, server_cli: Cli
) -> None:
    """Recorded, left alone while the runbook's checks went late (SO1 said so in the war
    room and paged the lead), resolved from the CLI: the draft claims nothing it cannot
    cite, and no late notice counts as telling anyone."""
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    api.put(f"/v1/services/{SERVICE}", json={"tier": "critical", "owner_team": "backend"})
    incident = open_incident(container, "Checkout slow", Severity.SEV2, service=SERVICE)
    for _ in range(4):
        clock.advance(timedelta(minutes=3))
        check_clocks(container.uow, container.clock)
        deliver_due(container.uow, container.clock, container.adapters.messengers)
    said = api.get(f"/v1/incidents/{incident.id}/messages").json()
    late = [m for m in said if m["kind"] == "runbook_late" and m["status"] == "sent"]
    assert late, said  # the war room was told the checks were late
    server_cli("incident", "update", incident.id, "--status", "resolved").assert_ok()
    deliver_due(container.uow, container.clock, container.adapters.messengers)
    run = api.post(
        "/v1/orchestrate",
        json={"agent": "postmortem-analyst", "inputs": {"incident_id": incident.id}},
    )
    assert run.status_code == 200, run.text
    draft = api.get(f"/v1/incidents/{incident.id}/postmortem").json()["draft"]
    late_ids = {f"message:{m['id']}" for m in late}
    late_times = {m["sent_at"] for m in late}
    claims = draft["went_well"] + draft["lucky"]
    assert not [c for c in claims if any(ref in c for ref in late_ids)], claims
    assert not [c for c in claims if "communication" in c.lower()], claims
    assert draft["key_times"]["first_communication"] not in late_times
    recorded = {row["ref"] for row in draft["timeline"]}
    recorded |= {f"message:{m['id']}" for m in said if m["kind"] != "runbook_late"}
    for claim in claims:  # every claim cites something the record holds
        cited = claim.rsplit("(", 1)[1].rstrip(")").split(", ")
        assert cited and set(cited) <= recorded, (claim, recorded)


def test_a_reviewer_ticks_every_check(container: Container, people: People) -> None:
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    base = drafted(container, alice)
    assert bob.post(f"{base}/checks/{CHECKS[0]}").status_code == 200
    for check in CHECKS[1:]:
        assert carol.post(f"{base}/checks/{check}").status_code == 200
    split = alice.post(f"{base}/publish")  # two half-readers are not one reviewer
    assert split.status_code == 409
    assert "Timeline accuracy: bob; Root cause validated: carol" in split.json()["detail"]
    for check in CHECKS[1:]:
        assert bob.post(f"{base}/checks/{check}").status_code == 200
    assert alice.post(f"{base}/publish").status_code == 200
