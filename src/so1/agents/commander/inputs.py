"""The incident-commander's inputs, validated into frozen dataclasses.

The seed's call passes ``incident_id, severity, triage_report, commander, channel``; SO1 adds
``title``, ``service``, ``detected_at``, ``now`` and a ``context`` (catalog, teams, people,
who is on call, who is away) when it runs the agent itself. Every problem raises ValueError
naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from so1.domain.oncall import Person, Seniority
from so1.domain.severity import Severity

INCIDENT_ID = re.compile(r"^INC-(\d{8})-(\d{4,})$")


@dataclass(frozen=True, slots=True)
class TeamInfo:
    name: str
    lead: str | None = None
    escalation_policy: str | None = None
    on_call: str | None = None  # who covers the team's first schedule now
    schedule: str | None = None
    backups: tuple[str, ...] = ()  # the rest of that rotation, in order, not away
    skipped: tuple[str, ...] = ()  # on the rota now but away


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    owner_team: str | None = None
    tier: str | None = None
    public_name: str | None = None


@dataclass(frozen=True, slots=True)
class CommanderInputs:
    incident_id: str
    severity: Severity
    title: str
    status: str
    service: str | None
    detected_at: datetime | None
    now: datetime | None
    report: Mapping[str, Any]
    requested_commander: str | None
    channel: str | None
    security: bool = False
    services: dict[str, ServiceInfo] = field(default_factory=dict)
    alert_counts: dict[str, int] = field(default_factory=dict)
    teams: dict[str, TeamInfo] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    away: frozenset[str] = frozenset()


def _text(raw: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value.strip()


def _time(raw: Mapping[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value else None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{key} must be an ISO 8601 time") from exc
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def parse_inputs(raw: Mapping[str, Any]) -> CommanderInputs:
    incident_id = _text(raw, "incident_id", required=True) or ""
    if not INCIDENT_ID.match(incident_id):
        raise ValueError("incident_id must look like INC-YYYYMMDD-NNNN")
    try:
        severity = Severity(str(raw.get("severity", "")).upper())
    except ValueError as exc:
        raise ValueError("severity must be one of SEV0..SEV4") from exc
    report = raw.get("triage_report")
    report = {} if report is None else report
    if not isinstance(report, Mapping):
        raise ValueError("triage_report must be an object")
    context = raw.get("context")
    context = {} if context is None else context
    if not isinstance(context, Mapping):
        raise ValueError("context must be an object")
    title = _text(raw, "title") or _title_from(report) or f"Incident {incident_id}"
    return CommanderInputs(
        incident_id=incident_id,
        severity=severity,
        title=title,
        status=_text(raw, "status") or "Investigating",
        service=_text(raw, "service"),
        detected_at=_time(raw, "detected_at"),
        now=_time(raw, "now"),
        report=report,
        requested_commander=(_text(raw, "commander") or "").lstrip("@") or None,
        channel=_text(raw, "channel"),
        security=bool(raw.get("security")) or _is_security(report),
        **_context(context),
    )


def _title_from(report: Mapping[str, Any]) -> str | None:
    symptoms = report.get("symptoms")
    if isinstance(symptoms, list) and symptoms and isinstance(symptoms[0], str):
        return symptoms[0]
    return None


def _is_security(report: Mapping[str, Any]) -> bool:
    hypotheses = report.get("hypotheses")
    if isinstance(hypotheses, list) and hypotheses and isinstance(hypotheses[0], Mapping):
        return hypotheses[0].get("cause") == "security_breach"
    return False


def _context(context: Mapping[str, Any]) -> dict[str, Any]:
    services = {
        s["name"]: ServiceInfo(s["name"], s.get("owner_team"), s.get("tier"), s.get("public_name"))
        for s in _list(context, "services")
    }
    people = {
        p["handle"]: Person(
            p["handle"],
            name=p.get("name"),
            team=p.get("team"),
            seniority=Seniority(p.get("seniority", "engineer")),
        )
        for p in _list(context, "people")
    }
    teams = {
        t["name"]: TeamInfo(
            t["name"],
            t.get("lead"),
            t.get("escalation_policy"),
            t.get("on_call"),
            t.get("schedule"),
            tuple(t.get("backups") or ()),
            tuple(t.get("skipped") or ()),
        )
        for t in _list(context, "teams")
    }
    counts = context.get("alert_counts") or {}
    if not isinstance(counts, Mapping):
        raise ValueError("context.alert_counts must be an object")
    return {
        "services": services,
        "people": people,
        "teams": teams,
        "alert_counts": {str(k): int(v) for k, v in counts.items()},
        "away": frozenset(str(h) for h in _list(context, "away")),
    }
