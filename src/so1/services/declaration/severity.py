"""A severity change on a declared incident, carried out: the incident-commander's severity
plan (agents/commander/severity) applied in the caller's transaction, every message and page
through the outbox. What was already sent is read from the outbox, so nothing goes twice.

An incident that was never declared (no war room yet) only records the change: declaring it
later runs the actions of the severity it has then."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from so1.agents.commander.contract import CommanderRequest
from so1.agents.commander.severity import (
    DoneSoFar,
    SeverityPlan,
    SeverityShift,
    plan_severity_change,
)
from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident
from so1.domain.participants import Role
from so1.domain.severity import Severity
from so1.ports import UnitOfWork
from so1.services.declaration.flow import (
    commander_inputs,
    earlier_declaration,
    page_payload,
    queue_page,
)
from so1.services.declaration.outbox import queue_message
from so1.services.incidents.participants import hand_role
from so1.services.incidents.recording import Actor


def follow_severity_change(
    uow: UnitOfWork,
    now: datetime,
    actor: Actor,
    incident: Incident,
    before: Severity,
    reason: str,
) -> Incident:
    """``incident`` (already at its new severity) with the runbook's actions for the change
    queued; its commander replaced when the new level needs someone more senior."""
    if earlier_declaration(uow, incident.id) is None:
        return incident
    said = uow.outbox.for_incident(incident.id)
    shift = SeverityShift(before, incident.severity, reason, actor.name)
    request = CommanderRequest(incident.id, channel=incident.channel)
    inputs = commander_inputs(uow, now, incident, request)
    plan = plan_severity_change(inputs, shift, done_so_far(incident, said))
    return _apply(uow, now, actor, incident, plan)


def done_so_far(incident: Incident, said: list[Outbound]) -> DoneSoFar:
    """What the outbox holds: the kinds said, the people paged by the declaration or a
    severity change (not the escalation policy's steps), the status page's title."""
    public = next((m for m in said if m.destination is Destination.STATUS_PAGE), None)
    paged = {
        m.target
        for m in said
        if m.destination is Destination.PAGER
        and m.target
        and m.payload.get("action", "trigger") == "trigger"
        and m.payload.get("dedup_key") == _dedup_key(incident.id, m.target)
    }
    return DoneSoFar(
        said=frozenset((m.destination, m.kind) for m in said),
        paged=frozenset(paged),
        commander=incident.commander,
        public_title=str(public.payload.get("title") or incident.title) if public else None,
    )


def _dedup_key(incident_id: str, handle: str) -> str:
    return str(page_payload(incident_id, handle, None)["dedup_key"])


def _apply(
    uow: UnitOfWork, now: datetime, actor: Actor, incident: Incident, plan: SeverityPlan
) -> Incident:
    if plan.commander and plan.commander != incident.commander:
        hand_role(uow, actor, now, incident.id, plan.commander, Role.COMMANDER)
        incident = replace(incident, commander=plan.commander)
    for handle in plan.responders:
        if handle != plan.commander:
            hand_role(uow, actor, now, incident.id, handle, Role.RESPONDER)
    for message in plan.messages:
        payload: dict[str, object] = {"channel": incident.channel}
        if message.to is Destination.WAR_ROOM:
            payload |= {"topic": plan.topic, "set_topic": message.kind == "severity_changed"}
        shown = {"title": message.title, "state": message.state}
        payload |= {k: v for k, v in shown.items() if v is not None}
        outbound = Outbound(
            incident.id, message.to, message.audience, message.kind, message.text, now
        )
        queue_message(uow, replace(outbound, payload=payload))
    for page in plan.pages:
        extra = {"policy": page.policy} if page.policy else None
        queue_page(uow, now, incident.id, page.handle, page.reason, plan.owning_team, extra=extra)
    for handle in plan.unpage:
        _resolve_page(uow, now, incident.id, handle, plan)
    return incident


def _resolve_page(
    uow: UnitOfWork, now: datetime, incident_id: str, handle: str, plan: SeverityPlan
) -> None:
    """Stop a page the new level does not need: resolved at the pager (same dedup key)."""
    key = _dedup_key(incident_id, handle)
    payload = {"action": "resolve", "dedup_key": key, "team": plan.owning_team}
    queue_message(
        uow,
        Outbound(
            incident_id,
            Destination.PAGER,
            "person",
            "page_resolve",
            f"resolve the page of @{handle}: not needed at {plan.severity}",
            now,
            target=handle,
            payload=payload,
        ),
    )
