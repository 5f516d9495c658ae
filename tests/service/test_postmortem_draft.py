"""Phase 5, postmortem: the postmortem-analyst's draft kept for a resolved incident (with the
review meeting announced in the war room once), redrafts, review and publication through
the publisher port, and the clocks job drafting what is missing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from so1.agents.commander.agent import IncidentCommander
from so1.agents.commander.contract import CommanderRequest
from so1.agents.postmortem.agent import PostmortemAnalyst
from so1.agents.postmortem.contract import PostmortemDraft, PostmortemInputs, PostmortemRequest
from so1.domain.incidents import Incident, IncidentStatus
from so1.domain.postmortem import PostmortemStatus
from so1.domain.records import AgentName, RunStatus
from so1.domain.timeline import EventKind
from so1.errors import Conflict
from so1.services.declaration.flow import commander_request
from so1.services.incidents.lifecycle import IncidentPatch, update_incident
from so1.services.incidents.recording import Actor
from so1.services.postmortem import review
from so1.services.postmortem.drafting import draft_missing, postmortem_request
from tests.fakes import FakeClock, FakeDatabase, FakeFolder
from tests.service.conftest import ALICE, BOB, open_incident

CAROL = Actor("carol-key", key_id="k_carol", person="carol")


def resolved(db: FakeDatabase, clock: FakeClock) -> Incident:
    """Declared by the commander (a war room), then resolved half an hour later."""
    incident = open_incident(db, clock)
    request = CommanderRequest(incident.id, commander="alice", channel="#incident-pool")
    commander_request(db.uow, clock, ALICE, IncidentCommander(), request)
    clock.advance(timedelta(minutes=30))
    patch = IncidentPatch(status=IncidentStatus.RESOLVED, resolution_summary="pool resized")
    return update_incident(db.uow, clock, ALICE, incident.id, patch)


def meeting_invites(db: FakeDatabase) -> list[str]:
    return [m.body for m in db.committed().outbox if m.kind == "postmortem_meeting"]


def test_a_draft_is_kept_and_the_review_meeting_announced_once(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = resolved(db, clock)
    analyst = PostmortemAnalyst()

    first = postmortem_request(db.uow, clock, ALICE, analyst, PostmortemRequest(incident.id))
    clock.advance(timedelta(minutes=5))
    postmortem_request(db.uow, clock, BOB, analyst, PostmortemRequest(incident.id))

    assert first.status is RunStatus.COMPLETED and first.output is not None
    kept = db.committed().postmortems[incident.id]
    assert (kept.status, kept.version) == (PostmortemStatus.DRAFT, 2)
    assert kept.meta["author"] == "bob"
    assert incident.title in kept.markdown
    [invite] = meeting_invites(db)
    assert invite.startswith(f"📅 Postmortem review of {incident.id}")
    drafted = [e for e in db.committed().timeline if e.kind == EventKind.POSTMORTEM_DRAFTED]
    assert [e.summary.split(" (")[0] for e in drafted] == [
        "postmortem draft v1",
        "postmortem draft v2",
    ]


def review_by(db: FakeDatabase, clock: FakeClock, incident_id: str, reviewer: Actor) -> None:
    review.submit(db.uow, clock, ALICE, incident_id)
    for check in review.REVIEW_CHECKS:
        review.tick(db.uow, clock, reviewer, incident_id, check)


def test_a_reviewed_draft_is_published_through_the_publisher(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = resolved(db, clock)
    postmortem_request(db.uow, clock, ALICE, PostmortemAnalyst(), PostmortemRequest(incident.id))
    review_by(db, clock, incident.id, BOB)
    folder = FakeFolder()

    published = review.publish(db.uow, clock, CAROL, incident.id, review.file_writer(folder))

    assert published.status is PostmortemStatus.PUBLISHED
    [(path, (markdown, message))] = folder.files.items()
    assert path.name.startswith(incident.detected_at.date().isoformat())
    assert markdown == published.markdown and incident.id in message
    with pytest.raises(Conflict, match="published"):
        postmortem_request(
            db.uow, clock, ALICE, PostmortemAnalyst(), PostmortemRequest(incident.id)
        )


def test_the_author_alone_cannot_review_it_for_publication(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = resolved(db, clock)
    postmortem_request(db.uow, clock, ALICE, PostmortemAnalyst(), PostmortemRequest(incident.id))
    review_by(db, clock, incident.id, ALICE)
    folder = FakeFolder()

    with pytest.raises(Conflict):
        review.publish(db.uow, clock, CAROL, incident.id, review.file_writer(folder))
    assert folder.files == {}
    assert db.committed().postmortems[incident.id].status is PostmortemStatus.IN_REVIEW


class _Failing:
    name = "postmortem-analyst"

    def run(self, inputs: PostmortemInputs, /) -> PostmortemDraft:
        raise RuntimeError("analysis failed")


def test_the_clocks_job_drafts_what_is_missing_and_backs_off_a_failure(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident = resolved(db, clock)

    assert draft_missing(db.uow, clock, _Failing()) == 0
    failed = [r for r in db.committed().agent_runs.values() if r.agent == AgentName.POSTMORTEM]
    assert [(r.status, r.error) for r in failed] == [
        (RunStatus.FAILED, "RuntimeError: analysis failed")
    ]
    clock.advance(timedelta(minutes=30))
    assert draft_missing(db.uow, clock, PostmortemAnalyst()) == 0  # left alone for an hour
    clock.advance(timedelta(minutes=31))
    assert draft_missing(db.uow, clock, PostmortemAnalyst()) == 1
    assert db.committed().postmortems[incident.id].status is PostmortemStatus.DRAFT
    assert draft_missing(db.uow, clock, PostmortemAnalyst()) == 0  # nothing missing now
