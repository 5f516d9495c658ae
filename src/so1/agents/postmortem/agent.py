"""postmortem-analyst: drafts the blameless postmortem from the incident record alone,
deterministically: summary, impact, key times, late runbook checks, the timeline, the root
cause with its confidence, 5 whys (or fishbone, or the timeline only) each citing the record,
action items with owners and due dates, and what went well / where we got lucky, marked for
the meeting to confirm. Where the record cannot support a part, the draft says what is
missing instead of filling it.

Its inputs and draft are typed in ``contract``: ``PostmortemInputs`` → ``PostmortemDraft``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from so1 import knowledge as packaged
from so1.agents.postmortem import record as rec
from so1.agents.postmortem.claims import well_and_lucky
from so1.agents.postmortem.contract import (
    ActionItemDraft,
    Durations,
    Fishbone,
    ImpactSummary,
    IncidentRecord,
    KeyTimes,
    PostmortemDraft,
    PostmortemInputs,
    RootCause,
    Why,
)
from so1.agents.triage.knowledge import knowledge
from so1.domain.incidents import Incident
from so1.domain.postmortem import AnalysisMethod


@dataclass(frozen=True, slots=True)
class LessonItem:
    title: str
    priority: str
    due_days: int


@dataclass(frozen=True, slots=True)
class Lesson:
    """What knowledge/postmortem.yaml says about a cause beyond the record."""

    safeguard: str | None
    process_gap: str | None
    action_items: tuple[LessonItem, ...]


@cache
def lessons() -> dict[str, Lesson]:
    return {str(cause): _lesson(raw) for cause, raw in packaged.postmortem()["causes"].items()}


def _lesson(raw: dict[str, Any]) -> Lesson:
    items = tuple(
        LessonItem(str(i["title"]), str(i["priority"]), int(i["due_days"]))
        for i in raw.get("action_items") or []
    )
    return Lesson(raw.get("safeguard"), raw.get("process_gap"), items)


def cause_titles() -> dict[str, str]:
    return {c.cause: c.title for c in knowledge().causes}


class PostmortemAnalyst:
    name = "postmortem-analyst"

    def run(self, inputs: PostmortemInputs) -> PostmortemDraft:
        method, record = inputs.request.method, inputs.record
        incident = record.incident
        cause = rec.root_cause(record, cause_titles())
        key_times = _key_times(record)
        durations = _durations(key_times)
        lesson = lessons().get(cause.cause if cause else "", lessons()["default"])
        action_items = tuple(_action_items(record, cause, lesson))
        went_well, lucky = well_and_lucky(record)
        return PostmortemDraft(
            incident_id=incident.id,
            title=incident.title,
            severity=incident.severity,
            analysis_method=method,
            key_times=key_times,
            late_checks=tuple(rec.late_checks(record)),
            timeline=tuple(rec.timeline(record)),
            root_cause=cause,
            responders=inputs.request.responders or record.responders,
            durations=durations,
            impact=_impact(record, durations),
            summary=_summary(incident, cause, durations),
            whys=_whys(record, cause, lesson) if method is AnalysisMethod.FIVE_WHYS else None,
            fishbone=_fishbone(record, cause, lesson)
            if method is AnalysisMethod.FISHBONE
            else None,
            contributing_factors=tuple(t for t, _ in rec.triggers(record)),
            action_items=action_items,
            went_well=tuple(went_well),
            lucky=tuple(lucky),
            missing=tuple(_missing(record, key_times, cause, action_items)),
        )


def _key_times(record: IncidentRecord) -> KeyTimes:
    incident = record.incident
    return KeyTimes(
        detected=incident.detected_at,
        acknowledged=incident.acknowledged_at,
        declared=incident.declared_at,
        first_communication=rec.first_communication(record),
        mitigated=rec.mitigated_at(record),
        resolved=incident.resolved_at,
    )


def _durations(times: KeyTimes) -> Durations:
    return Durations(
        time_to_acknowledge_minutes=rec.minutes(times.detected, times.acknowledged),
        time_to_mitigate_minutes=rec.minutes(times.detected, times.mitigated),
        time_to_resolve_minutes=rec.minutes(times.detected, times.resolved),
    )


def _impact(record: IncidentRecord, durations: Durations) -> ImpactSummary:
    incident = record.incident
    impact = incident.impact
    listed = impact.get("services") or []
    services = [incident.service] if incident.service else sorted({str(s) for s in listed})
    return ImpactSummary(
        duration_minutes=durations.time_to_resolve_minutes,
        users=impact.get("users_affected") or impact.get("users"),
        services=tuple(services),
        severity_history=record.severity_history,
    )


def _summary(incident: Incident, cause: RootCause | None, durations: Durations) -> str:
    where = f" on {incident.service}" if incident.service else ""
    text = f"{incident.severity.value} incident{where}: {incident.title}."
    ttr = durations.time_to_resolve_minutes
    text += f" Resolved after {ttr:g} minutes." if ttr is not None else " Not resolved yet."
    if cause:
        text += f" Root cause: {cause.title} ({round(cause.confidence * 100)}% confidence)."
    else:
        text += " The record does not establish a root cause."
    if incident.resolution_summary:
        text += f" Resolution: {incident.resolution_summary}."
    return text


def _why(level: str, question: str, answer: str | None, cites: list[str], gap: str) -> Why:
    return Why(level, question, answer, tuple(cites), None if answer else gap)


def _whys(record: IncidentRecord, cause: RootCause | None, lesson: Lesson) -> tuple[Why, ...]:
    incident, alerts = record.incident, record.alerts
    symptom = alerts[0].summary if alerts else incident.title
    symptom_cite = f"alert:{alerts[0].id}" if alerts else f"incident:{incident.id}"
    triggers = rec.triggers(record)
    knowledge_cite = [f"runbook knowledge: {cause.cause}"] if cause else []
    return (
        _why("symptom", "What did users and monitors see?", symptom, [symptom_cite], ""),
        _why(
            "mechanism",
            "Why did that happen?",
            cause.title if cause else None,
            [cause.source] if cause else [],
            "no hypothesis in the record explains it",
        ),
        _why(
            "trigger",
            "Why then?",
            "; ".join(t for t, _ in triggers) or None,
            [c for _, c in triggers],
            "the record shows no deployment or flag change in the 24 hours before detection;"
            " the meeting must establish what changed",
        ),
        _why(
            "missing safeguard",
            "Why was it not caught earlier?",
            lesson.safeguard if cause else None,
            knowledge_cite,
            "no safeguard is known for this cause; the meeting must name one",
        ),
        _why(
            "process gap",
            "Why was that safeguard missing?",
            lesson.process_gap if cause else None,
            knowledge_cite,
            "no process gap is known for this cause; the meeting must name one",
        ),
    )


def _fishbone(record: IncidentRecord, cause: RootCause | None, lesson: Lesson) -> Fishbone:
    escalations = [e.summary for e in rec.events(record, "escalation.step")]
    late = [f"{c.title} was late" for c in rec.late_checks(record)]
    gap = [lesson.process_gap] if cause and lesson.process_gap else []
    return Fishbone(
        technology=(cause.title,) if cause else (),
        change=tuple(t for t, _ in rec.triggers(record)),
        monitoring=(lesson.safeguard,) if cause and lesson.safeguard else (),
        process=(*late, *gap),
        people=tuple(escalations),
    )


def _action_items(
    record: IncidentRecord, cause: RootCause | None, lesson: Lesson
) -> list[ActionItemDraft]:
    owner = record.owner_lead or record.incident.commander
    base = record.incident.resolved_at or record.now
    return [
        ActionItemDraft(
            title=item.title,
            priority=item.priority,
            owner=owner,
            due=(base + timedelta(days=item.due_days)).date(),
            addresses=cause.cause if cause else "detection",
        )
        for item in lesson.action_items
    ]


def _missing(
    record: IncidentRecord,
    times: KeyTimes,
    cause: RootCause | None,
    action_items: tuple[ActionItemDraft, ...],
) -> list[str]:
    missing = ["acknowledgement missed: nobody acknowledged the incident"]
    missing = missing if times.acknowledged is None else []
    missing += [
        f"{label} is recorded"
        for when, label in (
            (times.mitigated, "no mitigation"),
            (times.resolved, "no resolution"),
            (times.first_communication, "no message sent"),
        )
        if when is None
    ]
    if cause is None:
        missing.append("no hypothesis: the root cause and its 5 whys need the meeting")
    if not record.alerts:
        missing.append("no alerts are linked to the incident")
    if any(item.owner is None for item in action_items):
        missing.append("no owner is known for the action items (no team lead or commander)")
    return missing
