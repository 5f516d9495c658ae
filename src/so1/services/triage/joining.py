"""Alerts that belong to an open incident: a new alert on an open incident's service, or on a
service connected to it through the catalog's dependencies, joins that incident, however
long ago it was opened. Triage still runs on it (once per signal of the incident a minute,
so a storm is not triaged alert by alert: see JoinTriageMemo); its proposal is kept on the
incident's timeline, a confident higher severity raises the incident the way a person's
change does (with a reason, the new level's actions through the outbox), and only a
confident, unrelated cause opens a new incident instead. The rationale says which."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from so1.agents.triage import TriageReport
from so1.domain.alerts import Alert
from so1.domain.incidents import Incident
from so1.domain.intake import CorrelationRule
from so1.domain.timeline import EventKind
from so1.domain.triage import Escalation, TriageStatus
from so1.ports import UnitOfWork
from so1.services.declaration.severity import follow_severity_change
from so1.services.incidents.recording import Change, note, noted, record, record_many
from so1.services.incidents.severity import record_severity_change
from so1.services.triage.join_notes import TRIAGE_ACTOR, joined_notes

JOIN_TRIAGE_EVERY = timedelta(seconds=60)
_MEMO_ENTRIES = 10_000  # past this many signals, the ones not triaged lately are forgotten


class JoinTriageMemo:
    """When each signal (service and metric) of an open incident was last triaged.

    A joining alert is triaged when its signal is new to the incident, or was last triaged
    more than ``every`` ago; otherwise it joins without triage. So a storm of one signal
    (a thousand hosts with the same alert) costs one triage a minute, and a different
    signal (another service, another metric) is still triaged at once. The record is shared:
    each pass first ``recall``s the triage runs of its incidents (whichever worker ran them,
    committed with the decision under the group's lock), so workers do not triage again a
    signal another just triaged. The background worker keeps one memo across its passes;
    each direct call of ``process_pending`` starts a new one."""

    def __init__(self, every: timedelta = JOIN_TRIAGE_EVERY) -> None:
        self._every = every
        self._triaged: dict[tuple[str, str, str], datetime] = {}

    def recall(self, uow: UnitOfWork, incident_ids: Sequence[str], now: datetime) -> None:
        """Learn when the signals of these incidents were last triaged, by any worker."""
        for signal, at in uow.agent_runs.last_triaged(incident_ids, now - self._every).items():
            if at > self._triaged.get(signal, at - self._every):
                self._remember(signal, at, now)

    def due(self, incident_id: str, alert: Alert, now: datetime) -> bool:
        last = self._triaged.get(_signal(incident_id, alert))
        return last is None or now - last >= self._every

    def mark(self, incident_id: str, alert: Alert, now: datetime) -> None:
        self._remember(_signal(incident_id, alert), now, now)

    def _remember(self, signal: tuple[str, str, str], at: datetime, now: datetime) -> None:
        if len(self._triaged) >= _MEMO_ENTRIES:
            self._triaged = {k: t for k, t in self._triaged.items() if now - t < self._every}
        self._triaged[signal] = at


def _signal(incident_id: str, alert: Alert) -> tuple[str, str, str]:
    return incident_id, alert.service or "", alert.metric or ""


def with_reason(report: TriageReport, reason: str) -> TriageReport:
    """The report with one more line of rationale (why it joined or opened an incident)."""
    return replace(report, rationale=(*report.rationale, reason))


def opened_new_because(services: set[str], alert: Alert) -> str:
    """The rationale of an alert that opens an incident when none is open around it."""
    shown = ", ".join(sorted(services)) or "no service"
    return (
        f"opened new because no incident is open on {alert.service or 'its service'}"
        f" or the services connected to it ({shown})"
    )


def unrelated_cause(uow: UnitOfWork, incident_id: str, report: TriageReport) -> str | None:
    """Why the alert needs an incident of its own, or None when it belongs to ``incident_id``.

    Only a confident incident report (completed, not a ticket) whose leading cause is none of
    the causes the incident's own triage weighed counts as unrelated; an incident with no
    triage report (declared by a person) takes every alert on its services."""
    confident = report.is_incident and report.status is TriageStatus.COMPLETED
    if not confident or report.escalation is Escalation.TICKET or report.top_cause == "unknown":
        return None
    reports = uow.timeline.for_incident(incident_id, [EventKind.TRIAGE_REPORT])
    weighed = {
        str(h.get("cause"))
        for r in reports
        for h in r.data.get("hypotheses") or []
        if isinstance(h, dict)
    }
    if not weighed or report.top_cause in weighed:
        return None
    return (
        f"opened new because triage found an unrelated cause: {report.top_cause}"
        f" ({report.confidence:.0%}), which {incident_id}'s triage did not weigh"
        f" ({', '.join(sorted(weighed))})"
    )


def join_triaged(
    uow: UnitOfWork,
    now: datetime,
    alert: Alert,
    report: TriageReport,
    incident_id: str,
    rule: CorrelationRule,
) -> TriageReport:
    """Attach a triaged alert to the open incident and keep triage's proposal on its
    timeline; returns the report with the rationale of the join."""
    incident = uow.incidents.get(incident_id)
    proposal = _proposal(report, incident)
    reason = f"joined {incident_id}: open on {alert.service or 'a connected service'}; {proposal}"
    join_incident(uow, now, [alert], incident_id, rule, announce=False)
    current = uow.incidents.get(incident_id, for_update=True)  # joining may mark a storm
    if current is not None and _raises(report, current):
        _raise_severity(uow, now, current, alert, report)
    text = f"alert joined: {alert.summary} ({alert.service or 'no service'}); {proposal}"
    data = {
        "alert_ids": [alert.id],
        "count": 1,
        "total": uow.alerts.count_for_incidents([incident_id]).get(incident_id, 0),
        "rationale": reason,
        "triage": {
            "severity": report.severity.value if report.severity else None,
            "confidence": report.confidence,
            "cause": report.top_cause,
            "classification": report.classification.value,
        },
    }
    note(uow, TRIAGE_ACTOR, now, incident_id, EventKind.ALERT_CORRELATED, text[:1000], data)
    return with_reason(report, reason)


def _raises(report: TriageReport, incident: Incident) -> bool:
    """Triage raises an open incident's severity when it is sure (confidence at least 0.70)
    that the joining alert shows a worse incident; it never lowers one."""
    return (
        report.is_incident
        and report.severity is not None
        and report.severity.rank < incident.severity.rank
        and report.status is not TriageStatus.INVESTIGATION_REQUIRED
        and incident.status.is_open
    )


def _raise_severity(
    uow: UnitOfWork, now: datetime, incident: Incident, alert: Alert, report: TriageReport
) -> None:
    """The raise goes the way a person's does (item 1 of the process rules): recorded with a
    reason, and on a declared incident the new level's actions follow through the outbox."""
    assert report.severity is not None
    reason = (
        f"triage of the joining alert {alert.id} ({alert.summary[:200]}): likely "
        f"{report.top_cause}, confidence {report.confidence:.2f}"
    )
    changed = record_severity_change(uow, TRIAGE_ACTOR, now, incident, report.severity, reason)
    after = follow_severity_change(uow, now, TRIAGE_ACTOR, changed, incident.severity, reason)
    updated = replace(after, updated_at=now, version=incident.version + 1)
    uow.incidents.update(updated, expected_version=incident.version)


def _proposal(report: TriageReport, incident: Incident | None) -> str:
    if not report.is_incident or report.severity is None:
        return f"triage: {report.classification.value.replace('_', ' ')}, kept with the incident"
    proposed = report.severity
    cause = f"likely {report.top_cause}"
    if incident is not None and proposed.rank < incident.severity.rank:
        if _raises(report, incident):
            return f"triage raises to {proposed.value} (was {incident.severity.value}), {cause}"
        return (
            f"triage proposes {proposed.value} (incident is {incident.severity.value}), {cause};"
            " not sure enough to raise it: a person may, with a reason"
        )
    return f"triage: {proposed.value}, {cause}"


def join_incident(
    uow: UnitOfWork,
    now: datetime,
    alerts: list[Alert],
    incident_id: str,
    rule: CorrelationRule,
    announce: bool = True,
) -> None:
    """Attach alerts to an incident; mark it a storm once enough related alerts joined."""
    uow.alerts.attach([a.id for a in alerts], incident_id)
    if announce and alerts:
        record_many(uow, TRIAGE_ACTOR, now, joined_notes(uow, now, {incident_id: alerts}))
    _mark_storms(uow, now, [incident_id], rule)


def join_many(
    uow: UnitOfWork,
    now: datetime,
    joined: Mapping[str, list[Alert]],
    rule: CorrelationRule,
    finished_as: str | None = None,
) -> None:
    """``join_incident`` for each incident and its alerts, in a few round trips in all
    (attach, the timeline notes and their audit rows, the storm check), not a few each.
    ``finished_as``: the alerts' triage ends in that state with the same write."""
    joined = {incident_id: alerts for incident_id, alerts in joined.items() if alerts}
    if not joined:
        return
    pairs = [(a.id, incident_id) for incident_id, alerts in joined.items() for a in alerts]
    uow.alerts.attach_many(pairs, finished_as)
    record_many(uow, TRIAGE_ACTOR, now, joined_notes(uow, now, joined))
    _mark_storms(uow, now, sorted(joined), rule)


def _mark_storms(
    uow: UnitOfWork, now: datetime, incident_ids: Sequence[str], rule: CorrelationRule
) -> None:
    """Mark a storm each incident that now holds enough alerts (one already marked is not
    counted again: no need to count its alerts on every batch)."""
    calm = [i for i in uow.incidents.get_many(incident_ids, for_update=True) if not i.storm]
    counts = uow.alerts.count_for_incidents([i.id for i in calm]) if calm else {}
    for incident in calm:
        count = counts.get(incident.id, 0)
        if count >= rule.storm_threshold:
            _mark_storm(uow, now, incident, count)


def _mark_storm(uow: UnitOfWork, now: datetime, incident: Incident, count: int) -> None:
    stormy = replace(incident, storm=True, updated_at=now, version=incident.version + 1)
    uow.incidents.update(stormy, expected_version=incident.version)
    record(uow, TRIAGE_ACTOR, now, storm_note(incident.id, count))


def storm_note(incident_id: str, count: int) -> Change:
    """The timeline line of an incident that became a storm of ``count`` alerts."""
    text = f"alert storm: {count} related alerts treated as this one incident"
    return noted(incident_id, EventKind.INCIDENT_STORM, text, {"alert_count": count})
