"""The runbook view of an incident: every check of ``knowledge/runbook.yaml`` with its state
and evidence, derived from the record (nothing stored, so a restart loses no deadline)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from so1 import knowledge
from so1.domain.alerts import Alert
from so1.domain.comms import COMMUNICATION_KINDS, DeliveryStatus, Destination, Outbound
from so1.domain.incidents import Incident, TimelineEvent
from so1.domain.runbook import ANCHORS, EVIDENCE, CheckResult, CheckSpec, Facts, evaluate
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import NotFound
from so1.ports import UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_read
from so1.services.incidents.recording import Actor

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
UPDATE_KINDS = COMMUNICATION_KINDS
# The timeline events that prove checks (read by kind: a storm's timeline is long).
ROOT_CAUSE_CONFIDENCE = 0.85  # seed Phase 5: "Root cause identified with >85% confidence"
FACT_KINDS = (
    EventKind.TRIAGE_REPORT,
    EventKind.WAR_ROOM_OPENED,
    EventKind.ROLE_ASSUMED,
    EventKind.POSTMORTEM_DRAFTED,
    EventKind.POSTMORTEM_PUBLISHED,
    EventKind.LEARNING_LINKED,
)


def _duration(text: str | None) -> timedelta | None:
    if text is None:
        return None
    return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})


@functools.cache
def runbook_checks() -> tuple[CheckSpec, ...]:
    """The packaged runbook, parsed once; a malformed file fails loudly at first use."""
    return parse_runbook(knowledge.runbook())


def parse_runbook(doc: dict[str, Any]) -> tuple[CheckSpec, ...]:
    specs = []
    for phase in doc["phases"]:
        for check in phase["checks"]:
            if check["evidence"] not in EVIDENCE or check.get("after", "detected") not in ANCHORS:
                raise ValueError(f"runbook.yaml: check {check['id']} has an unknown evidence/after")
            severities = check.get("severities")
            specs.append(
                CheckSpec(
                    id=check["id"],
                    title=check["title"],
                    phase=phase["id"],
                    evidence=check["evidence"],
                    after=check.get("after"),
                    within=_duration(check.get("within")),
                    every=_duration(check.get("every")),
                    severities=frozenset(Severity(s) for s in severities) if severities else None,
                    escalate=bool(check.get("escalate")),
                )
            )
    return tuple(specs)


def incident_runbook(
    uow_factory: UnitOfWorkFactory, actor: Actor, incident_id: str, now: datetime
) -> tuple[Incident, list[CheckResult]]:
    with uow_factory(read_only=True) as uow:
        incident = require_read(uow, actor, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return incident, evaluate(runbook_checks(), gather_facts(uow, incident), now)


def gather_facts(uow: UnitOfWork, incident: Incident) -> Facts:
    timeline = uow.timeline.for_incident(incident.id, FACT_KINDS)
    messages = uow.outbox.for_incident(incident.id)
    first_ack = uow.alerts.first_acknowledged(incident.id)
    opened = _first(timeline, EventKind.WAR_ROOM_OPENED)
    proofs: dict[str, tuple[datetime, str]] = {}

    def prove(name: str, at: datetime | None, text: str) -> None:
        if at is not None:
            proofs[name] = (at, text)

    acked = _acknowledged(incident, first_ack)
    prove("acknowledged", *acked)
    triage = _first(timeline, EventKind.TRIAGE_REPORT)
    if triage is not None:
        prove("triaged", triage.occurred_at, f"triage-responder: {triage.summary}")
    else:
        prove("triaged", incident.created_at, f"declared as {incident.severity} by a person")
    if opened is not None:
        prove("war_room", opened.occurred_at, opened.summary)
    prove("commander_present", *_commander_present(incident, timeline, messages, acked[0]))
    sent = [m for m in messages if m.status is DeliveryStatus.SENT and m.sent_at is not None]
    room = [m for m in sent if m.destination is Destination.WAR_ROOM and m.kind in UPDATE_KINDS]
    page = [m for m in sent if m.destination is Destination.STATUS_PAGE]
    for name, found in (("first_message", room), ("status_page", page)):
        if found:
            prove(name, found[0].sent_at, f"{found[0].kind} delivered at {_hm(found[0].sent_at)}")
    prove("mitigated", incident.mitigated_at, "incident marked mitigated")
    prove("resolved", incident.resolved_at, "incident resolved")
    for fact, kind in (
        ("postmortem_drafted", EventKind.POSTMORTEM_DRAFTED),
        ("postmortem_published", EventKind.POSTMORTEM_PUBLISHED),
    ):
        event = _first(timeline, kind)
        if event is not None:
            prove(fact, event.occurred_at, event.summary)
    _postmortem_quality(timeline, prove)
    anchors = {
        "detected": incident.detected_at,
        "declared": incident.declared_at or (opened.occurred_at if opened else None),
        "resolved": incident.resolved_at,
    }
    updates = [m.sent_at for m in room + page if m.sent_at is not None]
    return Facts(incident.severity, anchors, proofs, {"update": updates}, _waiting(messages))


def _waiting(messages: list[Outbound]) -> dict[str, str]:
    """A status-page draft (approval ``draft``) is not an update until a person publishes it."""
    drafts = [
        m
        for m in messages
        if m.destination is Destination.STATUS_PAGE and m.status is DeliveryStatus.DRAFT
    ]
    if not drafts:
        return {}
    return {"status_page": f"draft waiting to be published since {_hm(drafts[0].created_at)}"}


def _postmortem_quality(
    timeline: list[TimelineEvent], prove: Callable[[str, datetime | None, str], None]
) -> None:
    """Phase 5 verification from what publishing recorded, and linked learnings."""
    published = _first(timeline, EventKind.POSTMORTEM_PUBLISHED)
    if published is not None:
        confidence = float(published.data.get("root_cause_confidence") or 0)
        if confidence > ROOT_CAUSE_CONFIDENCE:
            prove(
                "root_cause_confident",
                published.occurred_at,
                f"root cause at {confidence:.0%} confidence",
            )
        if published.data.get("action_items_owned"):
            prove("action_items_owned", published.occurred_at, "every action item owned and dated")
    learning = _first(timeline, EventKind.LEARNING_LINKED)
    if learning is not None:
        prove("learnings_linked", learning.occurred_at, learning.summary)


def _acknowledged(incident: Incident, alert: Alert | None) -> tuple[datetime | None, str]:
    times = [(alert.acknowledged_at, f"alert {alert.id} acknowledged")] if alert else []
    if incident.acknowledged_at is not None:
        times.append((incident.acknowledged_at, "incident acknowledged"))
    if not times:
        return None, ""
    at, text = min(times, key=lambda t: t[0] or incident.detected_at)
    return at, f"{text} at {_hm(at)}"


def _commander_present(
    incident: Incident,
    timeline: list[TimelineEvent],
    messages: list[Outbound],
    acknowledged_at: datetime | None,
) -> tuple[datetime | None, str]:
    """Assigned (role event) and present: acknowledged, or spoke in the war room."""
    if incident.commander is None:
        return None, ""
    assigned = next(
        (
            e.occurred_at
            for e in timeline
            if e.kind == EventKind.ROLE_ASSUMED and e.data.get("role") == "commander"
        ),
        None,
    )
    spoke = next(
        (m.created_at for m in messages if m.kind == "note" and m.target == incident.commander),
        None,
    )
    present = min((t for t in (acknowledged_at, spoke) if t is not None), default=None)
    if assigned is None or present is None:
        return None, ""
    at = max(assigned, present)
    return at, f"@{incident.commander} assigned and present at {_hm(at)}"


def _first(timeline: list[TimelineEvent], kind: EventKind) -> TimelineEvent | None:
    return next((e for e in timeline if e.kind == kind), None)


def _hm(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "?"
