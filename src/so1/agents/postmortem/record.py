"""Reading the incident record the postmortem-analyst is given (domain objects, gathered by
services/postmortem/drafting.py): times, the ordered timeline, the root cause and the changes
before detection. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from so1.agents.postmortem.contract import IncidentRecord, RootCause, TimelineLine
from so1.domain.changes import Deployment
from so1.domain.comms import COMMUNICATION_KINDS, DeliveryStatus, Destination
from so1.domain.incidents import TimelineEvent
from so1.domain.runbook import CheckResult, CheckState

TRIGGER_LOOKBACK = timedelta(hours=24)
NOISY = frozenset({"mitigation.progress", "checklist.ticked", "agent.run"})
LATE = frozenset({CheckState.DONE_LATE, CheckState.LATE})
WORKED = ("effective", "stable")  # verification outcomes that confirm a mitigation


def minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def events(record: IncidentRecord, *kinds: str) -> list[TimelineEvent]:
    return [e for e in record.timeline if e.kind in kinds]


def first_communication(record: IncidentRecord) -> datetime | None:
    stamps = [at for at, _ in communications(record, Destination.WAR_ROOM)]
    return min(stamps) if stamps else None


def communications(record: IncidentRecord, destination: Destination) -> list[tuple[datetime, str]]:
    """(when delivered, citation) of the messages that told people about the incident; SO1's
    own notices (a late runbook check, a reminder) are not communication."""
    return [
        (m.sent_at, f"message:{m.id}")
        for m in record.messages
        if m.destination is destination
        and m.status is DeliveryStatus.SENT
        and m.sent_at is not None
        and (destination is not Destination.WAR_ROOM or m.kind in COMMUNICATION_KINDS)
    ]


def mitigated_at(record: IncidentRecord) -> datetime | None:
    done = [e.occurred_at for e in events(record, "mitigation.finished") if e.data.get("ok")]
    return done[0] if done else record.incident.mitigated_at


def timeline(record: IncidentRecord) -> list[TimelineLine]:
    """Alerts, deployments, timeline events and sent messages, ordered, one line per
    (minute-second, text): the same fact recorded twice shows once."""
    rows = [TimelineLine(a.first_seen_at, "alert", a.summary, a.id) for a in record.alerts]
    detected = record.incident.detected_at
    for d in record.deployments:
        if d.deployed_at >= detected - TRIGGER_LOOKBACK:
            by = f" by {d.deployed_by}" if d.deployed_by else ""
            text = f"{d.service} {d.version} deployed{by}"
            rows.append(TimelineLine(d.deployed_at, "deployment", text, _deployment_ref(d)))
    rows += [
        TimelineLine(e.occurred_at, e.kind, e.summary, f"event:{e.id}")
        for e in record.timeline
        if e.kind not in NOISY
    ]
    seen: set[tuple[str, str]] = set()
    ordered = []
    for line in sorted(rows, key=lambda r: r.at):
        key = (line.at.strftime("%Y%m%d%H%M%S"), line.text.strip().lower())
        if key not in seen:
            seen.add(key)
            ordered.append(line)
    return ordered


def root_cause(record: IncidentRecord, titles: Mapping[str, str]) -> RootCause | None:
    """The hypothesis the record supports best: documented ones first (by confidence), then
    triage's, never one a mitigation rejected; confirmed when a mitigation aimed at it
    passed the gates."""
    rejected = {e.data.get("cause") for e in events(record, "hypothesis.rejected")}
    candidates = _documented(record) + _triaged(record)
    standing = [c for c in candidates if c.cause not in rejected]
    if not standing:
        return None
    best = max(standing, key=lambda c: c.confidence)
    found = replace(
        best,
        title=best.statement or titles.get(best.cause) or best.cause.replace("_", " "),
        rejected=tuple(sorted(str(r) for r in rejected if r)),
    )
    verified = [e for e in events(record, "verification.result") if e.data.get("outcome") in WORKED]
    if not verified:
        return found
    return replace(
        found,
        confirmed_by=f"the gates passed after the mitigation (event:{verified[-1].id})",
        confidence=max(found.confidence, 0.9),
    )


def _documented(record: IncidentRecord) -> list[RootCause]:
    found = []
    for e in events(record, "hypothesis.documented"):
        cause = e.data.get("cause") or e.data.get("hypothesis")
        if cause:
            statement = e.data.get("hypothesis")
            found.append(_candidate(cause, e.data, str(statement) if statement else None, e.id))
    return found


def _triaged(record: IncidentRecord) -> list[RootCause]:
    reports = events(record, "triage.report")
    if not reports:
        return []
    last = reports[-1]
    hypotheses = last.data.get("hypotheses") or []
    return [_candidate(h["cause"], h, None, last.id) for h in hypotheses if h.get("cause")]


def _candidate(
    cause: object, data: Mapping[str, object], statement: str | None, event_id: int | None
) -> RootCause:
    evidence = data.get("evidence")
    return RootCause(
        cause=str(cause),
        confidence=_number(data.get("confidence")),
        evidence=tuple(str(e) for e in evidence) if isinstance(evidence, list) else (),
        statement=statement,
        source=f"event:{event_id}",
        title="",
    )


def triggers(record: IncidentRecord) -> list[tuple[str, str]]:
    """(what changed, citation) in the 24 hours before detection: deployments of the service
    and flag flips."""
    detected = record.incident.detected_at
    found = []
    for d in record.deployments:
        if detected - TRIGGER_LOOKBACK <= d.deployed_at <= detected:
            hours = (detected - d.deployed_at).total_seconds() / 3600
            text = f"{d.version} of {d.service} was deployed {hours:.0f} h before detection"
            found.append((text, _deployment_ref(d)))
    found += [
        (e.summary, f"event:{e.id}")
        for e in events(record, "flag.flipped")
        if e.occurred_at <= detected
    ]
    return found


def late_checks(record: IncidentRecord) -> list[CheckResult]:
    return [c for c in record.checks if c.state in LATE]


def on_time(checks: Iterable[CheckResult]) -> list[CheckResult]:
    return [c for c in checks if c.state is CheckState.DONE and c.due_at]


def _deployment_ref(deployment: Deployment) -> str:
    return f"deployment:{deployment.service}:{deployment.version}"


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float | str) and value else 0.0
