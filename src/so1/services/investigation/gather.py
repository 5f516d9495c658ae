"""Phase 3 "Gather context" for an incident in one call: recent deployments and what changed,
the key metrics around the incident window, error log patterns of the live deployment (new
ones since the previous deployment first), the runbook's symptom table applied to the
metrics, and the hypotheses so far. Sources that cannot answer are named, not fatal."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from so1.agents.deployer.knowledge import playbook
from so1.domain.catalog import CatalogService, Tier
from so1.domain.incidents import Incident
from so1.domain.investigation import DeploymentDiff, SymptomRow, deployment_diff, symptom_table
from so1.domain.metrics import Series
from so1.domain.platform import LogLine, PlatformDeployment
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import So1Error
from so1.ports import Clock, MetricsSource, Platform, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.lifecycle import get_incident
from so1.services.incidents.recording import Actor

METRICS = (
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "db_pool_utilization",
    "cpu",
    "memory_mb",
)
BEFORE_DETECTION = timedelta(hours=1)
DEPLOYMENT_LOOKBACK = timedelta(days=30)  # far enough back to find the previous one
LOG_LINES = 500
STEP_SECONDS = 60
ERROR_LINE = re.compile(
    r"error|exception|traceback|timeout|timed out|refused|fail|fatal|panic|^\s+(at |File \")",
    re.IGNORECASE,
)


@dataclass
class InvestigationContext:
    incident: Incident
    start: datetime
    end: datetime
    diff: DeploymentDiff | None = None
    platform: list[PlatformDeployment] = field(default_factory=list)
    metrics: list[Series] = field(default_factory=list)
    logs: Any = None  # log_patterns.LogSummary
    symptoms: list[SymptomRow] = field(default_factory=list)
    hypotheses: list[dict[str, Any]] = field(default_factory=list)
    mitigations: list[dict[str, Any]] = field(default_factory=list)  # for the leading cause
    unavailable: dict[str, str] = field(default_factory=dict)  # source → why


def investigation_context(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    metrics: MetricsSource,
    platform: Platform | None,
    incident_id: str,
) -> InvestigationContext:
    incident = get_incident(uow_factory, incident_id, actor)
    with uow_factory(read_only=True) as uow:
        found = InvestigationContext(incident, incident.detected_at - BEFORE_DETECTION, clock.now())
        found.hypotheses = _hypotheses(uow, incident_id)
        found.mitigations = recommended(found.hypotheses, incident.severity)
        service = incident.service
        if service is None:
            found.unavailable["service"] = "the incident names no service"
            return found
        recent = uow.deployments.recent(incident.detected_at - DEPLOYMENT_LOOKBACK, service)
        entry = uow.catalog.get(service) or CatalogService(service, Tier.MEDIUM)
    if recent:
        found.diff = deployment_diff(recent[0], recent[1] if len(recent) > 1 else None)
    found.metrics = _metrics(found, metrics, entry)
    if platform is not None:
        _platform(found, platform, service)
    by_metric = {s.metric: s for s in found.metrics}
    deployed_at = found.diff.deployed_at if found.diff else None
    found.symptoms = symptom_table(by_metric, deployed_at, incident.detected_at)
    return found


def recommended(hypotheses: list[dict[str, Any]], severity: Severity) -> list[dict[str, Any]]:
    """The runbook's strategies for the leading hypothesis still standing, best first, with
    whether SO1's policy wants an approval at this severity."""
    standing = [h for h in hypotheses if h.get("cause") and not h.get("rejected")]
    if not standing:
        return []
    cause = str(standing[0]["cause"])
    book = playbook()
    return [
        {
            "cause": cause,
            "strategy": s.name,
            "label": s.label,
            "when": s.when,
            "risk": s.risk.value,
            "speed": s.speed,
            "action": s.action,
            "needs_approval": book.approval.needs_approval(s, severity) is not None,
        }
        for s in book.for_cause(cause)
    ]


def _hypotheses(uow: UnitOfWork, incident_id: str) -> list[dict[str, Any]]:
    reports = uow.timeline.for_incident(incident_id, [EventKind.TRIAGE_REPORT])
    rejected = {
        e.data.get("cause")
        for e in uow.timeline.for_incident(incident_id, [EventKind.HYPOTHESIS_REJECTED])
    }
    documented = uow.timeline.for_incident(incident_id, [EventKind.HYPOTHESIS_DOCUMENTED])
    listed = [
        dict(h) | {"rejected": h.get("cause") in rejected}
        for h in (reports[-1].data.get("hypotheses") or [] if reports else [])
    ]
    return listed + [dict(e.data) | {"documented_by": e.actor} for e in documented]


def _metrics(
    found: InvestigationContext, source: MetricsSource, entry: CatalogService
) -> list[Series]:
    series = []
    for metric in METRICS:
        try:
            series.append(source.series(entry, metric, found.start, found.end, STEP_SECONDS))
        except So1Error as exc:
            found.unavailable["metrics"] = exc.detail
            break
    return series


def _platform(found: InvestigationContext, platform: Platform, service: str) -> None:
    from so1.services.investigation.log_patterns import summarize

    try:
        found.platform = platform.deployments(service, 5)
        if not found.platform:
            return
        current = _errors(platform.logs(service, found.platform[0].id, LOG_LINES))
        previous = (
            _errors(platform.logs(service, found.platform[1].id, LOG_LINES))
            if len(found.platform) > 1
            else []
        )
    except So1Error as exc:
        found.unavailable["platform"] = exc.detail
        return
    found.logs = summarize(current, previous)


def _errors(lines: list[LogLine]) -> list[str]:
    return [
        line.message
        for line in lines
        if (line.severity or "").lower() in ("error", "fatal") or ERROR_LINE.search(line.message)
    ]
