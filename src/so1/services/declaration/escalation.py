"""Escalation until acknowledged: the commander's page starts the owning team's policy
(on-call engineer → backup → engineering lead → executive, with the policy's timeouts and
repeats); each later level is paged when its time comes, unless the incident was
acknowledged first. Each step fires once (runbook_alarms), whatever the workers do. When the
first level times out, whoever it pages next (the backup) becomes the commander."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from so1.domain.incidents import OPEN_STATUSES, Incident
from so1.domain.oncall import EscalationStep
from so1.domain.participants import Role
from so1.domain.timeline import EventKind
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.declaration.flow import queue_page
from so1.services.declaration.oncall import resolve_targets
from so1.services.declaration.policy import DEFAULT_POLICY, escalation_for
from so1.services.incidents.participants import hand_role
from so1.services.incidents.recording import Actor, note
from so1.services.isolation import each, guarded

ALARM = "escalation"
# The step, its policy, the team paged, and why the default policy is used (None: it is not).
Step = tuple[EscalationStep, str, str | None, str | None]


def escalate_unacknowledged(
    uow_factory: UnitOfWorkFactory, clock: Clock, default_policy: str = DEFAULT_POLICY
) -> int:
    """One pass; returns how many escalation steps fired. An incident that fails is logged
    and skipped; the others still escalate. An incident whose service has no owner team or
    policy escalates through ``default_policy`` (see ``policy.escalation_for``)."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        incidents, _ = uow.incidents.search(IncidentFilter(status=OPEN_STATUSES, limit=500))
        waiting = [i for i in incidents if i.acknowledged_at is None]
        due = {i.id: _steps_of(uow, i, now, default_policy) for i in waiting}
    return each(
        "escalation", waiting, lambda i: i.id, lambda i: _escalate(uow_factory, now, i, due[i.id])
    )


def _escalate(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    incident: Incident,
    due: list[Step],
) -> int:
    return sum(_fire(uow_factory, now, incident, *step) for step in due)


def _steps_of(uow: UnitOfWork, incident: Incident, now: datetime, default: str) -> list[Step]:
    """The incident's due steps; none (logged) when its record cannot be read."""
    return guarded("escalation", incident.id, lambda: _due_steps(uow, incident, now, default), [])


def _due_steps(uow: UnitOfWork, incident: Incident, now: datetime, default: str) -> list[Step]:
    chosen = escalation_for(uow, incident, default)
    if chosen.policy is None or chosen.started_at is None:
        return []  # not declared, or its policy was removed
    first = 1 if chosen.paged else 0  # step 0 went out with the declaration
    steps = [s for s in chosen.policy.due(chosen.started_at, now) if s.number >= first]
    return [(s, chosen.policy.name, chosen.team, chosen.note) for s in steps]


def _fire(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    incident: Incident,
    step: EscalationStep,
    policy: str,
    team: str | None,
    default_note: str | None = None,
) -> bool:
    with uow_factory() as uow:
        if not uow.outbox.claim_alarm(incident.id, ALARM, step.number, now):
            return False
        away = uow.oncall.time_off(now)
        handles = resolve_targets(step.targets, uow.oncall.schedules(now), away, now)
        level = f"level {step.level + 1}" + (f", round {step.cycle + 1}" if step.cycle else "")
        text = f"not acknowledged: escalating ({policy} {level}) to " + (
            ", ".join(f"@{h}" for h in handles) or "nobody (no one resolvable)"
        )
        if default_note:
            text += f" ({default_note})"
        data = {"policy": policy, "step": step.number, "handles": handles}
        data |= {"default_used": default_note} if default_note else {}
        note(uow, Actor(name="so1"), now, incident.id, EventKind.ESCALATION_STEP, text, data)
        if step.number == 1 and handles and handles[0] != incident.commander:
            _backup_takes_over(uow, now, incident, handles[0])
        for handle in handles:
            reason = f"escalation {level}: not acknowledged"
            queue_page(uow, now, incident.id, handle, reason, team, f"esc{step.number}")
        uow.commit()
    return True


def _backup_takes_over(uow: UnitOfWork, now: datetime, incident: Incident, backup: str) -> None:
    """The runbook's "Commander unavailable (no response) → assign backup from rotation": the
    first escalation level takes the commander role until someone says otherwise."""
    actor = Actor(name="so1")
    hand_role(uow, actor, now, incident.id, backup, Role.COMMANDER)
    current = uow.incidents.get(incident.id, for_update=True)
    if current is not None:
        changed = replace(current, commander=backup, updated_at=now, version=current.version + 1)
        uow.incidents.update(changed, expected_version=current.version)
