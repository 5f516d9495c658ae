"""Paging someone into an incident by hand (the incident page, `so1 incident page`, the API):
a person by handle, or a team (whoever covers its first schedule now, else its lead). The page
goes through the outbox like the declaration's pages, so it is delivered once, and the person
becomes a responder. Paging is explicit: declaring again never pages anyone
(docs/declaration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from so1.domain.participants import Role
from so1.domain.timeline import EventKind
from so1.errors import Conflict, NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.declaration.flow import queue_page
from so1.services.incidents.participants import hand_role
from so1.services.incidents.recording import Actor, Change, record

REASON_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    reason: str
    handle: str | None = None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class PageSent:
    incident_id: str
    handle: str
    team: str | None
    reason: str
    paged_at: datetime


def page_responder(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str, ask: PageRequest
) -> PageSent:
    """Queue one page to the person (or the team's on-call) and make them a responder."""
    reason = _checked(ask)
    now = clock.now()
    with uow_factory() as uow:
        require_act(uow, actor, incident_id)
        incident = uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"incident '{incident_id}' does not exist")
        if not incident.status.is_open:
            raise Conflict(f"{incident_id} is {incident.status}: nobody is paged for it")
        handle, team = _target(uow, now, ask)
        topic = f"by-hand-{now.strftime('%Y%m%dT%H%M%S')}"
        queue_page(uow, now, incident_id, handle, reason, team, topic=topic)
        hand_role(uow, actor, now, incident_id, handle, Role.RESPONDER)
        detail = {"handle": handle, "team": team, "reason": reason}
        summary = f"{actor.name} paged {handle}" + (f" ({team})" if team else "") + f": {reason}"
        change = Change(
            "incident.page", "incident", incident_id, summary, detail, incident_id,
            EventKind.RESPONDER_PAGED,
        )  # fmt: skip
        record(uow, actor, now, change)
        uow.commit()
    return PageSent(incident_id, handle, team, reason, now)


def _checked(ask: PageRequest) -> str:
    if (ask.handle is None) == (ask.team is None):
        raise ValidationFailed("name a person (handle) or a team to page, not both", "handle")
    reason = ask.reason.strip()
    if not reason:
        raise ValidationFailed("say why they are paged (it goes with the page)", "reason")
    if len(reason) > REASON_LIMIT:
        raise ValidationFailed(f"the reason is longer than {REASON_LIMIT} characters", "reason")
    return reason


def _target(uow: UnitOfWork, now: datetime, ask: PageRequest) -> tuple[str, str | None]:
    """The handle to page, and the team it is paged for."""
    if ask.handle is not None:
        person = uow.oncall.person(ask.handle)
        if person is None:
            raise ValidationFailed(f"no person with handle '{ask.handle}' (so1 oncall)", "handle")
        return person.handle, person.team
    team = uow.oncall.team(ask.team or "")
    if team is None:
        raise ValidationFailed(f"no team named '{ask.team}' (so1 oncall)", "team")
    schedule = next((s for s in uow.oncall.schedules(now) if s.team == team.name), None)
    covering = schedule.on_call(now, uow.oncall.time_off(now)).handle if schedule else None
    handle = covering or team.lead
    if handle is None:
        raise ValidationFailed(f"team '{team.name}' has nobody on call and no lead", "team")
    return handle, team.name
