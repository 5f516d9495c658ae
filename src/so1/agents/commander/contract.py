"""The incident-commander's contract: the request (the seed's call), the inputs the service
builds from the incident record (catalog, teams, people, who is on call, who is away), and the
plan it returns.

``to_json`` gives the JSON kept in the run (DESIGN §3: the plan's shape is a contract).
``TriageFindings.from_report`` reads what the commander uses of a triage report, which is
JSON: kept on the timeline (``triage.report``) or handed over by the triage-responder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from so1.domain.catalog import CatalogService
from so1.domain.comms import Destination
from so1.domain.oncall import Person
from so1.domain.severity import Severity

SECURITY_CAUSE = "security_breach"


@dataclass(frozen=True, slots=True)
class Impact:
    users_affected: int | str | None = None
    affected: str | None = None  # what fails, in the customer's words ("workflow executions")
    services: tuple[str, ...] = ()

    def or_else(self, known: Impact) -> Impact:
        """This impact, with what it leaves out taken from ``known`` (the incident's)."""
        return Impact(
            self.users_affected if self.users_affected is not None else known.users_affected,
            self.affected if self.affected is not None else known.affected,
            self.services or known.services,
        )

    def to_json(self) -> dict[str, object]:
        given = {"users_affected": self.users_affected, "affected": self.affected}
        found: dict[str, object] = {k: v for k, v in given.items() if v is not None}
        return found | ({"services": list(self.services)} if self.services else {})

    @classmethod
    def from_json(cls, impact: Mapping[str, Any]) -> Impact:
        users, affected = impact.get("users_affected"), impact.get("affected")
        if not isinstance(users, int):
            users = str(users) if users else None
        listed = impact.get("services")
        services = [s for s in listed if isinstance(s, str)] if isinstance(listed, list) else []
        return cls(users, str(affected) if affected else None, tuple(services))


@dataclass(frozen=True, slots=True)
class SimilarIncident:
    """A resolved incident like this one (triage found it), shown to the war room."""

    incident_id: str
    title: str = ""
    cause: str = "unknown"
    resolution: str | None = None
    score: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "cause": self.cause,
            "resolution": self.resolution,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class TriageFindings:
    """What the commander reads of a triage report."""

    causes: tuple[str, ...] = ()  # the hypotheses' causes, the likeliest first
    hypotheses: tuple[str, ...] = ()  # free-text hypotheses (the seed's "hypothesis")
    symptoms: tuple[str, ...] = ()
    impact: Impact = field(default_factory=Impact)
    similar_incidents: tuple[SimilarIncident, ...] = ()

    @property
    def security(self) -> bool:
        return bool(self.causes) and self.causes[0] == SECURITY_CAUSE

    def to_json(self) -> dict[str, object]:
        return {
            "hypotheses": [{"cause": cause} for cause in self.causes],
            "hypothesis": list(self.hypotheses),
            "symptoms": list(self.symptoms),
            "impact": self.impact.to_json(),
            "similar_incidents": [s.to_json() for s in self.similar_incidents],
        }

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> TriageFindings:
        """A triage report as JSON; what does not have the expected type is left out."""
        hypotheses = report.get("hypotheses")
        listed = hypotheses if isinstance(hypotheses, list) else []
        impact = report.get("impact")
        return cls(
            tuple(str(h.get("cause") or "unknown") for h in listed if isinstance(h, Mapping)),
            _strings(report.get("hypothesis")),
            _strings(report.get("symptoms")),
            Impact.from_json(impact) if isinstance(impact, Mapping) else Impact(),
            _similar(report.get("similar_incidents")),
        )


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _similar(value: object) -> tuple[SimilarIncident, ...]:
    found = value if isinstance(value, list) else []
    return tuple(
        SimilarIncident(
            str(s["incident_id"]),
            str(s.get("title") or ""),
            str(s.get("cause") or "unknown"),
            str(s["resolution"]) if s.get("resolution") else None,
            float(s.get("score") or 0),
        )
        for s in found
        if isinstance(s, Mapping) and s.get("incident_id")
    )


@dataclass(frozen=True, slots=True)
class CommanderRequest:
    """The seed's call (``POST /v1/orchestrate``): a stored incident, and what the caller may
    set; SO1 fills in the rest from its records."""

    incident_id: str
    severity: Severity | None = None
    triage_report: TriageFindings | None = None
    commander: str | None = None  # a handle, with or without "@"
    channel: str | None = None
    title: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class TeamInfo:
    name: str
    lead: str | None = None
    escalation_policy: str | None = None
    on_call: str | None = None  # who covers the team's first schedule now
    schedule: str | None = None
    backups: tuple[str, ...] = ()  # the rest of that rotation, in order, not away
    skipped: tuple[str, ...] = ()  # on the rota now but away

    def to_json(self) -> dict[str, object]:
        team: dict[str, object] = {
            "name": self.name,
            "lead": self.lead,
            "escalation_policy": self.escalation_policy,
        }
        if self.schedule is None:
            return team
        return team | {
            "schedule": self.schedule,
            "on_call": self.on_call,
            "backups": list(self.backups),
            "skipped": list(self.skipped),
        }


@dataclass(frozen=True, slots=True)
class CommanderInputs:
    incident_id: str
    severity: Severity
    title: str
    status: str  # the status line of the first message ("Investigating")
    service: str | None
    detected_at: datetime | None
    now: datetime | None
    findings: TriageFindings
    requested_commander: str | None
    channel: str | None
    services: Mapping[str, CatalogService] = field(default_factory=dict)
    alert_counts: Mapping[str, int] = field(default_factory=dict)
    teams: Mapping[str, TeamInfo] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    away: frozenset[str] = frozenset()
    customer_summary: str | None = None  # the incident's words for customers (status page)

    @property
    def security(self) -> bool:
        """A security incident: a private war room, nothing on the status page."""
        return self.findings.security

    def to_json(self) -> dict[str, object]:
        told = {"customer_summary": self.customer_summary} if self.customer_summary else {}
        return told | {
            "incident_id": self.incident_id,
            "severity": self.severity.value,
            "title": self.title,
            "status": self.status,
            "service": self.service,
            "detected_at": self.detected_at.isoformat() if self.detected_at else None,
            "now": self.now.isoformat() if self.now else None,
            "triage_report": self.findings.to_json(),
            "commander": self.requested_commander,
            "channel": self.channel,
            "context": self._context_json(),
        }

    def _context_json(self) -> dict[str, object]:
        services = [
            {
                "name": s.name,
                "owner_team": s.owner_team,
                "tier": s.tier.value,
                "public_name": s.public_name,
            }
            for s in self.services.values()
        ]
        people = [
            {"handle": p.handle, "name": p.name, "team": p.team, "seniority": p.seniority.value}
            for p in self.people.values()
        ]
        return {
            "services": services,
            "alert_counts": dict(self.alert_counts),
            "teams": [t.to_json() for t in self.teams.values()],
            "people": people,
            "away": sorted(self.away),
        }


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    to: Destination  # war_room or status_page
    audience: str  # internal or customer
    kind: str  # declared, all_hands, escalation, note
    text: str
    title: str | None = None  # status page: the public incident's name
    state: str | None = None  # status page: investigating
    draft: bool = False  # status page: waits for a person to publish it (approval "draft")

    def to_json(self) -> dict[str, object]:
        message: dict[str, object] = {
            "to": self.to.value,
            "audience": self.audience,
            "kind": self.kind,
            "text": self.text,
        }
        extra = {"title": self.title, "state": self.state, "draft": self.draft or None}
        return message | {k: v for k, v in extra.items() if v is not None}


@dataclass(frozen=True, slots=True)
class PlannedPage:
    handle: str
    reason: str
    policy: str | None = None  # the owning team's escalation policy

    def to_json(self) -> dict[str, object]:
        return {"handle": self.handle, "reason": self.reason, "policy": self.policy}


@dataclass(frozen=True, slots=True)
class Timer:
    """A runbook clock: due at a time, or in minutes when the start is not known."""

    check: str
    due_at: datetime | None = None
    due_in_minutes: float | None = None
    every_minutes: int | None = None

    def to_json(self) -> dict[str, object]:
        timer: dict[str, object] = {"check": self.check}
        if self.due_at is not None:
            timer["due_at"] = self.due_at.isoformat()
        else:
            timer["due_in_minutes"] = self.due_in_minutes
        if self.every_minutes is not None:
            timer["every_minutes"] = self.every_minutes
        return timer


@dataclass(frozen=True, slots=True)
class CommanderPlan:
    """War room, commander and backup, responders, messages, pages and clocks, and why."""

    incident_id: str
    severity: Severity
    channel: str
    private: bool
    topic: str
    owning_team: str | None
    most_affected_service: str | None
    commander: str | None
    commander_role: str
    backup: str | None
    lead: str | None
    executive: str | None
    responders: tuple[str, ...]
    decisions: tuple[str, ...]
    messages: tuple[PlannedMessage, ...]
    pages: tuple[PlannedPage, ...]
    timers: tuple[Timer, ...]
    similar_incidents: tuple[SimilarIncident, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "incident_id": self.incident_id,
            "severity": self.severity.value,
            "status": "completed",
            "channel": self.channel,
            "private": self.private,
            "topic": self.topic,
            "owning_team": self.owning_team,
            "most_affected_service": self.most_affected_service,
            "commander": self.commander,
            "commander_role": self.commander_role,
            "backup": self.backup,
            "lead": self.lead,
            "executive": self.executive,
            "responders": list(self.responders),
            "decisions": list(self.decisions),
            "messages": [m.to_json() for m in self.messages],
            "pages": [p.to_json() for p in self.pages],
            "timers": [t.to_json() for t in self.timers],
            "similar_incidents": [s.to_json() for s in self.similar_incidents],
        }
