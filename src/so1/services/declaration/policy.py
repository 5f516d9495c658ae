"""Which escalation policy an incident follows, and since when.

The owning team's policy when the declaration paged under one; else the policy of the team
owning the incident's service. A service without an owner team or policy (or not in the
catalog at all) goes through the default policy: the on-call config's policy named by
SO1_DEFAULT_ESCALATION_POLICY, or when there is none of that name SO1's built-in one
(whoever is on call on every schedule, then the engineering leads, then the executives), and
the incident page and runbook view say "no policy for service X: default used"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.domain.oncall import EscalationLevel, EscalationPolicy, Seniority, Target
from so1.domain.timeline import EventKind
from so1.errors import NotFound
from so1.ports import UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_read
from so1.services.incidents.recording import Actor

DEFAULT_POLICY = "default"
# The runbook's response times: on-call engineer < 5 minutes, engineering lead < 10 minutes.
# Per built-in level: the commander's page, everyone on call, the leads, the executives.
BUILT_IN_TIMEOUTS = (
    timedelta(minutes=5),
    timedelta(minutes=5),
    timedelta(minutes=10),
    timedelta(0),
)


@dataclass(frozen=True, slots=True)
class EscalationChoice:
    """The policy an incident escalates through; ``note`` says when it is the default."""

    policy: EscalationPolicy | None
    team: str | None
    started_at: datetime | None  # the declaration's first page (step 0); None: not declared
    paged: bool  # step 0 went out with the declaration
    note: str | None = None

    @property
    def default_used(self) -> bool:
        return self.note is not None

    @property
    def name(self) -> str | None:
        return self.policy.name if self.policy else None


def incident_escalation(
    uow_factory: UnitOfWorkFactory, actor: Actor, incident_id: str, default_name: str
) -> EscalationChoice:
    """The escalation of one incident, for the runbook view and the incident page."""
    with uow_factory(read_only=True) as uow:
        incident = require_read(uow, actor, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return escalation_for(uow, incident, default_name)


def escalation_for(uow: UnitOfWork, incident: Incident, default_name: str) -> EscalationChoice:
    """The incident's policy: the one its declaration paged under, the service owner's, or
    the default (with the note saying so)."""
    pages = [
        m
        for m in uow.outbox.for_incident(incident.id, Destination.PAGER)
        if m.payload.get("action", "trigger") == "trigger" and "policy" in m.payload
    ]  # the declaration's pages carry "policy" (None when its team had none)
    first = pages[0] if pages else None
    named = next((m for m in pages if m.payload.get("policy")), None)
    if named is not None:
        found = uow.oncall.policies([str(named.payload["policy"])])
        team = _team_of(named)
        return EscalationChoice(found[0] if found else None, team, named.created_at, True)
    started = first.created_at if first else _declared(uow, incident)
    owner, policy, missing = _service_policy(uow, incident)
    if policy is not None:
        return EscalationChoice(policy, owner, started, first is not None)
    chosen = default_policy(uow, default_name, started or incident.detected_at)
    note = f"no policy for service {incident.service or '(none)'}: default used ({chosen.name}"
    nobody = len(chosen.levels) < 2 and chosen.repeats == 0  # nobody after the first page
    note += f"; {missing}; nobody to escalate to)" if nobody else f"; {missing})"
    team = _team_of(first) if first else owner
    return EscalationChoice(chosen, team, started, first is not None, note)


def _declared(uow: UnitOfWork, incident: Incident) -> datetime | None:
    """When the declaration opened the war room without paging anyone (nobody available):
    the policy's first level is then paged too. None: never declared, nothing escalates."""
    opened = uow.timeline.for_incident(incident.id, [EventKind.WAR_ROOM_OPENED])
    return opened[0].occurred_at if opened else None


def _team_of(page: Outbound) -> str | None:
    team = page.payload.get("team")
    return str(team) if team else None


def _service_policy(
    uow: UnitOfWork, incident: Incident
) -> tuple[str | None, EscalationPolicy | None, str]:
    """(owner team, its policy, why there is none) for the incident's service."""
    if not incident.service:
        return None, None, "the incident names no service"
    entry = uow.catalog.get(incident.service)
    if entry is None:
        return None, None, f"{incident.service} is not in the service catalog"
    if not entry.owner_team:
        return None, None, f"{incident.service} has no owner team"
    team = uow.oncall.team(entry.owner_team)
    if team is None or not team.escalation_policy:
        return entry.owner_team, None, f"team {entry.owner_team} has no escalation policy"
    found = uow.oncall.policies([team.escalation_policy])
    if not found:
        why = f"team {team.name}'s policy {team.escalation_policy} is not defined"
        return team.name, None, why
    return team.name, found[0], ""


def default_policy(uow: UnitOfWork, name: str, at: datetime) -> EscalationPolicy:
    """The configured default policy, or the built-in one made from the on-call config."""
    found = uow.oncall.policies([name])
    if found:
        return found[0]
    schedules = tuple(Target("schedule", s.name) for s in uow.oncall.schedules(at))
    people = uow.oncall.people()
    leads = tuple(Target("person", p.handle) for p in people if p.seniority is Seniority.LEAD)
    executives = tuple(
        Target("person", p.handle) for p in people if p.seniority is Seniority.EXECUTIVE
    )
    # Level 0 is the commander's page at declaration; then everyone on call, leads, executives.
    later = zip((schedules, leads, executives), BUILT_IN_TIMEOUTS[1:], strict=True)
    levels = (
        EscalationLevel(schedules, BUILT_IN_TIMEOUTS[0]),
        *(EscalationLevel(t, timeout) for t, timeout in later if t),
    )
    return EscalationPolicy(f"{name} (built-in)", levels)
