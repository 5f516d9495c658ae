"""postmortem-analyst: drafts the blameless postmortem from the incident record alone,
deterministically: summary, impact, key times, late runbook checks, the timeline, the root
cause with its confidence, 5 whys (or fishbone, or the timeline only) each citing the record,
action items with owners and due dates, and what went well / where we got lucky, marked for
the meeting to confirm. Where the record cannot support a part, the draft says what is
missing instead of filling it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from typing import Any

from so1 import knowledge as packaged
from so1.agents.postmortem import record as rec
from so1.agents.triage.knowledge import knowledge

METHODS = ("5_whys", "fishbone", "timeline_only")
CLOSE_CALL = 0.2  # a check done in the last fifth of its time was a near miss


@cache
def lessons() -> dict[str, Any]:
    loaded: dict[str, Any] = packaged.postmortem()["causes"]
    return loaded


def cause_titles() -> dict[str, Any]:
    return {c.cause: {"title": c.title} for c in knowledge().causes}


class PostmortemAnalyst:
    name = "postmortem-analyst"

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        method = str(inputs.get("analysis_method") or "5_whys")
        if method not in METHODS:
            raise ValueError(f"analysis_method must be one of {', '.join(METHODS)}")
        record: Mapping[str, Any] = inputs["record"]
        incident = record["incident"]
        cause = rec.root_cause(record, cause_titles())
        draft: dict[str, Any] = {
            "incident_id": incident["id"],
            "title": incident["title"],
            "severity": incident["severity"],
            "analysis_method": method,
            "key_times": _key_times(record),
            "late_checks": rec.late_checks(record),
            "timeline": rec.timeline(record),
            "root_cause": cause,
            "responders": list(inputs.get("responders") or record.get("responders") or []),
        }
        draft["durations"] = _durations(draft["key_times"])
        draft["impact"] = _impact(record, draft["durations"])
        draft["summary"] = _summary(incident, cause, draft["durations"])
        lesson = lessons().get(cause["cause"] if cause else "", lessons()["default"])
        if method == "5_whys":
            draft["whys"] = _whys(record, cause, lesson)
        elif method == "fishbone":
            draft["fishbone"] = _fishbone(record, cause, lesson)
        draft["contributing_factors"] = [t for t, _ in rec.triggers(record)]
        draft["action_items"] = _action_items(record, cause, lesson)
        draft["went_well"], draft["lucky"] = _well_and_lucky(record)
        draft["missing"] = _missing(record, draft)
        return draft


def _key_times(record: Mapping[str, Any]) -> dict[str, str | None]:
    incident = record["incident"]
    times = {
        "detected": rec.when(incident["detected_at"]),
        "acknowledged": rec.when(incident.get("acknowledged_at")),
        "declared": rec.when(incident.get("declared_at")),
        "first_communication": rec.first_communication(record),
        "mitigated": rec.mitigated_at(record),
        "resolved": rec.when(incident.get("resolved_at")),
    }
    return {k: v.isoformat() if v else None for k, v in times.items()}


def _durations(times: Mapping[str, str | None]) -> dict[str, float | None]:
    detected = rec.when(times["detected"])
    return {
        "time_to_acknowledge_minutes": rec.minutes(detected, rec.when(times["acknowledged"])),
        "time_to_mitigate_minutes": rec.minutes(detected, rec.when(times["mitigated"])),
        "time_to_resolve_minutes": rec.minutes(detected, rec.when(times["resolved"])),
    }


def _impact(record: Mapping[str, Any], durations: Mapping[str, float | None]) -> dict[str, Any]:
    incident = record["incident"]
    impact = dict(incident.get("impact") or {})
    services = sorted(
        {incident["service"]}
        if incident.get("service")
        else set() | set(impact.get("services") or [])
    )
    return {
        "duration_minutes": durations["time_to_resolve_minutes"],
        "users": impact.get("users_affected") or impact.get("users"),
        "services": services,
        "severity_history": list(record.get("severity_history") or []),
    }


def _summary(
    incident: Mapping[str, Any], cause: Mapping[str, Any] | None, durations: Mapping[str, Any]
) -> str:
    where = f" on {incident['service']}" if incident.get("service") else ""
    text = f"{incident['severity']} incident{where}: {incident['title']}."
    ttr = durations["time_to_resolve_minutes"]
    text += f" Resolved after {ttr:g} minutes." if ttr is not None else " Not resolved yet."
    if cause:
        text += f" Root cause: {cause['title']} ({round(cause['confidence'] * 100)}% confidence)."
    else:
        text += " The record does not establish a root cause."
    if incident.get("resolution_summary"):
        text += f" Resolution: {incident['resolution_summary']}."
    return text


def _why(
    level: str, question: str, answer: str | None, cites: list[str], gap: str
) -> dict[str, Any]:
    return {
        "level": level,
        "why": question,
        "because": answer,
        "cites": cites,
        "gap": None if answer else gap,
    }


def _whys(
    record: Mapping[str, Any], cause: Mapping[str, Any] | None, lesson: Mapping[str, Any]
) -> list[dict[str, Any]]:
    incident = record["incident"]
    alerts = record.get("alerts") or []
    symptom = alerts[0]["summary"] if alerts else incident["title"]
    symptom_cite = f"alert:{alerts[0]['id']}" if alerts else f"incident:{incident['id']}"
    triggers = rec.triggers(record)
    knowledge_cite = [f"runbook knowledge: {cause['cause']}"] if cause else []
    return [
        _why("symptom", "What did users and monitors see?", symptom, [symptom_cite], ""),
        _why(
            "mechanism",
            "Why did that happen?",
            cause["title"] if cause else None,
            [cause["source"]] if cause else [],
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
            lesson.get("safeguard") if cause else None,
            knowledge_cite,
            "no safeguard is known for this cause; the meeting must name one",
        ),
        _why(
            "process gap",
            "Why was that safeguard missing?",
            lesson.get("process_gap") if cause else None,
            knowledge_cite,
            "no process gap is known for this cause; the meeting must name one",
        ),
    ]


def _fishbone(
    record: Mapping[str, Any], cause: Mapping[str, Any] | None, lesson: Mapping[str, Any]
) -> dict[str, list[str]]:
    escalations = [e["summary"] for e in rec.events(record, "escalation.step")]
    late = [f"{c['title']} was late" for c in rec.late_checks(record)]
    return {
        "technology": [cause["title"]] if cause else [],
        "change": [t for t, _ in rec.triggers(record)],
        "monitoring": [lesson["safeguard"]] if cause and lesson.get("safeguard") else [],
        "process": late + ([lesson["process_gap"]] if cause and lesson.get("process_gap") else []),
        "people": escalations,
    }


def _action_items(
    record: Mapping[str, Any], cause: Mapping[str, Any] | None, lesson: Mapping[str, Any]
) -> list[dict[str, Any]]:
    incident = record["incident"]
    owner = record.get("owner_lead") or incident.get("commander")
    base = rec.when(incident.get("resolved_at")) or rec.when(record.get("now"))
    assert base is not None
    return [
        {
            "title": item["title"],
            "priority": item["priority"],
            "owner": owner,
            "owner_missing": owner is None,
            "due": (base + timedelta(days=int(item["due_days"]))).date().isoformat(),
            "addresses": cause["cause"] if cause else "detection",
        }
        for item in lesson.get("action_items") or []
    ]


def _well_and_lucky(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    well: list[str] = []
    lucky: list[str] = []
    incident = record["incident"]
    detected = rec.when(incident["detected_at"])
    for check in rec.on_time(record.get("checks") or []):
        due, done = rec.when(check["due_at"]), rec.when(check.get("done_at"))
        if due is None or done is None or detected is None or due <= detected:
            continue
        spare = (due - done) / (due - detected)
        line = f"{check['title']}: done with {int((due - done).total_seconds())} s to spare"
        (lucky if spare < CLOSE_CALL else well).append(line)
    finished = [
        e for e in rec.events(record, "mitigation.finished") if (e.get("data") or {}).get("ok")
    ]
    outcomes = [
        (e.get("data") or {}).get("outcome") for e in rec.events(record, "verification.result")
    ]
    if len(finished) == 1 and "ineffective" not in outcomes and "stable" in outcomes:
        well.append("The first mitigation worked and held through the stability window")
    return well, lucky


def _missing(record: Mapping[str, Any], draft: Mapping[str, Any]) -> list[str]:
    missing = []
    times = draft["key_times"]
    for key, label in (
        ("acknowledged", "no acknowledgement"),
        ("mitigated", "no mitigation"),
        ("resolved", "no resolution"),
        ("first_communication", "no message sent"),
    ):
        if times[key] is None:
            missing.append(f"{label} is recorded")
    if draft["root_cause"] is None:
        missing.append("no hypothesis: the root cause and its 5 whys need the meeting")
    if not record.get("alerts"):
        missing.append("no alerts are linked to the incident")
    if any(i["owner_missing"] for i in draft["action_items"]):
        missing.append("no owner is known for the action items (no team lead or commander)")
    return missing
