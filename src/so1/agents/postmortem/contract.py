"""The postmortem-analyst's contract: the request (the seed's call), the incident record the
service gathers as domain objects, and the draft.

``PostmortemDraft.to_json`` is the JSON kept in the run and in the postmortem (DESIGN §3: its
shape is a contract), and what the markdown template renders; ``KeptDraft`` reads back what
later steps need of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from so1.domain.alerts import Alert
from so1.domain.changes import Deployment
from so1.domain.comms import Outbound
from so1.domain.incidents import Incident, SeverityChange, TimelineEvent
from so1.domain.plain import plain
from so1.domain.postmortem import AnalysisMethod
from so1.domain.runbook import CheckResult
from so1.domain.severity import Severity


@dataclass(frozen=True, slots=True)
class PostmortemRequest:
    """The seed's call: which incident, how to analyse it, who responded."""

    incident_id: str
    analysis_method: AnalysisMethod | None = None  # 5_whys when not given
    responders: tuple[str, ...] | None = None  # else everyone who held a role
    timeline_source: str | None = None  # the seed's "incident_record", the only source

    @property
    def method(self) -> AnalysisMethod:
        return self.analysis_method or AnalysisMethod.FIVE_WHYS

    def to_json(self) -> dict[str, object]:
        given = {
            "analysis_method": self.analysis_method.value if self.analysis_method else None,
            "responders": list(self.responders) if self.responders is not None else None,
            "timeline_source": self.timeline_source,
        }
        return {"incident_id": self.incident_id} | {k: v for k, v in given.items() if v}


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """Everything the analyst may use, as SO1 keeps it."""

    incident: Incident
    severity_history: tuple[SeverityChange, ...]
    timeline: tuple[TimelineEvent, ...]  # in order
    alerts: tuple[Alert, ...]  # by first seen
    deployments: tuple[Deployment, ...]  # of the service, the week before detection
    messages: tuple[Outbound, ...]
    checks: tuple[CheckResult, ...]  # the runbook checks, evaluated now
    owner_lead: str | None  # the lead of the team owning the service
    responders: tuple[str, ...]  # everyone who held a role
    now: datetime


@dataclass(frozen=True, slots=True)
class PostmortemInputs:
    request: PostmortemRequest
    record: IncidentRecord


@dataclass(frozen=True, slots=True)
class KeyTimes:
    detected: datetime
    acknowledged: datetime | None
    declared: datetime | None
    first_communication: datetime | None
    mitigated: datetime | None
    resolved: datetime | None

    def to_json(self) -> dict[str, str | None]:
        return {k: v.isoformat() if v else None for k, v in self._times().items()}

    def _times(self) -> dict[str, datetime | None]:
        return {
            "detected": self.detected,
            "acknowledged": self.acknowledged,
            "declared": self.declared,
            "first_communication": self.first_communication,
            "mitigated": self.mitigated,
            "resolved": self.resolved,
        }


@dataclass(frozen=True, slots=True)
class Durations:
    time_to_acknowledge_minutes: float | None
    time_to_mitigate_minutes: float | None
    time_to_resolve_minutes: float | None

    def to_json(self) -> dict[str, float | None]:
        return {
            "time_to_acknowledge_minutes": self.time_to_acknowledge_minutes,
            "time_to_mitigate_minutes": self.time_to_mitigate_minutes,
            "time_to_resolve_minutes": self.time_to_resolve_minutes,
        }


@dataclass(frozen=True, slots=True)
class ImpactSummary:
    duration_minutes: float | None
    users: object  # as the incident's impact gives it (a number, or words)
    services: tuple[str, ...]
    severity_history: tuple[SeverityChange, ...]

    def to_json(self) -> dict[str, object]:
        history = [
            plain(
                {
                    "from": c.from_severity,
                    "to": c.to_severity,
                    "at": c.changed_at,
                    "actor": c.actor,
                    "reason": c.reason,
                }
            )
            for c in self.severity_history
        ]
        return {
            "duration_minutes": self.duration_minutes,
            "users": self.users,
            "services": list(self.services),
            "severity_history": history,
        }


@dataclass(frozen=True, slots=True)
class RootCause:
    cause: str
    confidence: float
    evidence: tuple[str, ...]
    statement: str | None  # a documented hypothesis's own words
    source: str  # the event it comes from ("event:42")
    title: str
    rejected: tuple[str, ...] = ()  # causes a mitigation ruled out
    confirmed_by: str | None = None  # the gates that passed after a mitigation aimed at it

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "cause": self.cause,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "statement": self.statement,
            "source": self.source,
            "title": self.title,
            "rejected": list(self.rejected),
            "confirmed_by": self.confirmed_by,  # null until a mitigation aimed at it passes
        }
        return found


@dataclass(frozen=True, slots=True)
class Why:
    level: str
    why: str
    because: str | None
    cites: tuple[str, ...]
    gap: str | None  # what the meeting must establish, when the record cannot say

    def to_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "why": self.why,
            "because": self.because,
            "cites": list(self.cites),
            "gap": self.gap,
        }


@dataclass(frozen=True, slots=True)
class Fishbone:
    technology: tuple[str, ...]
    change: tuple[str, ...]
    monitoring: tuple[str, ...]
    process: tuple[str, ...]
    people: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {
            "technology": list(self.technology),
            "change": list(self.change),
            "monitoring": list(self.monitoring),
            "process": list(self.process),
            "people": list(self.people),
        }


@dataclass(frozen=True, slots=True)
class ActionItemDraft:
    title: str
    priority: str
    owner: str | None
    due: date
    addresses: str  # the cause it prevents, or "detection"

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "priority": self.priority,
            "owner": self.owner,
            "owner_missing": self.owner is None,
            "due": self.due.isoformat(),
            "addresses": self.addresses,
        }


@dataclass(frozen=True, slots=True)
class TimelineLine:
    at: datetime
    source: str  # alert, deployment or the event's kind
    text: str
    ref: str  # what it cites ("alert:…", "deployment:svc:v", "event:42")

    def to_json(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "source": self.source,
            "text": self.text,
            "ref": self.ref,
        }


@dataclass(frozen=True, slots=True)
class PostmortemDraft:
    incident_id: str
    title: str
    severity: Severity
    analysis_method: AnalysisMethod
    key_times: KeyTimes
    late_checks: tuple[CheckResult, ...]
    timeline: tuple[TimelineLine, ...]
    root_cause: RootCause | None
    responders: tuple[str, ...]
    durations: Durations
    impact: ImpactSummary
    summary: str
    whys: tuple[Why, ...] | None  # 5_whys only
    fishbone: Fishbone | None  # fishbone only
    contributing_factors: tuple[str, ...]
    action_items: tuple[ActionItemDraft, ...]
    went_well: tuple[str, ...]
    lucky: tuple[str, ...]
    missing: tuple[str, ...]  # what the record cannot support, for the meeting

    def to_json(self) -> dict[str, object]:
        draft: dict[str, object] = {
            "incident_id": self.incident_id,
            "title": self.title,
            "severity": self.severity.value,
            "analysis_method": self.analysis_method.value,
            "key_times": self.key_times.to_json(),
            "late_checks": [plain(asdict(c)) for c in self.late_checks],
            "timeline": [line.to_json() for line in self.timeline],
            "root_cause": self.root_cause.to_json() if self.root_cause else None,
            "responders": list(self.responders),
            "durations": self.durations.to_json(),
            "impact": self.impact.to_json(),
            "summary": self.summary,
        }
        if self.whys is not None:
            draft["whys"] = [w.to_json() for w in self.whys]
        if self.fishbone is not None:
            draft["fishbone"] = self.fishbone.to_json()
        return draft | {
            "contributing_factors": list(self.contributing_factors),
            "action_items": [i.to_json() for i in self.action_items],
            "went_well": list(self.went_well),
            "lucky": list(self.lucky),
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class KeptActionItem:
    title: str
    priority: str
    owner: str | None
    due: date | None


@dataclass(frozen=True, slots=True)
class KeptDraft:
    """What later steps (review, publication, similar incidents) read back of a draft kept
    in a postmortem (``PostmortemDraft.to_json``)."""

    title: str
    detected: datetime | None
    cause: str | None  # the root cause's, when the record established one
    confidence: float | None
    action_items: tuple[KeptActionItem, ...]

    @classmethod
    def from_json(cls, draft: Mapping[str, Any]) -> KeptDraft:
        detected = (draft.get("key_times") or {}).get("detected")
        root = draft.get("root_cause") or {}
        items = tuple(
            KeptActionItem(
                str(i["title"]),
                str(i.get("priority") or "P2"),
                i.get("owner") or None,
                date.fromisoformat(str(i["due"])[:10]) if i.get("due") else None,
            )
            for i in draft.get("action_items") or []
        )
        return cls(
            str(draft.get("title")),
            datetime.fromisoformat(detected) if detected else None,
            str(root["cause"]) if root.get("cause") else None,
            root.get("confidence"),
            items,
        )
