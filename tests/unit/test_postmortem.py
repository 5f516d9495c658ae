"""The postmortem-analyst on an incident record made of domain objects (no database): the
seed's incident, triaged, mitigated by a pool-size change that the gates confirmed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from so1.agents.postmortem.agent import PostmortemAnalyst, cause_titles
from so1.agents.postmortem.contract import (
    IncidentRecord,
    KeptDraft,
    PostmortemInputs,
    PostmortemRequest,
)
from so1.domain.alerts import Alert, AlertSource, AlertStatus
from so1.domain.changes import Deployment
from so1.domain.comms import DeliveryStatus, Destination, Outbound
from so1.domain.incidents import Incident, IncidentStatus, SeverityChange, TimelineEvent
from so1.domain.postmortem import AnalysisMethod
from so1.domain.runbook import CheckResult, CheckState
from so1.domain.severity import Severity

T0 = datetime(2024, 1, 15, 14, 23, tzinfo=UTC)  # detection
ID = "INC-20240115-0042"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


INCIDENT = Incident(
    ID,
    "API error rate spike",
    IncidentStatus.RESOLVED,
    Severity.SEV2,
    T0,
    T0,
    at(90),
    service="control-plane-api",
    impact={"users_affected": 150},
    commander="oncall-backend",
    channel="#incident-20240115-0042",
    resolution_summary="pool 20 → 50",
    acknowledged_at=at(1.5),
    declared_at=at(2),
    resolved_at=at(75),
)


def event(n: int, minutes: float, kind: str, summary: str, **data: Any) -> TimelineEvent:
    return TimelineEvent(ID, at(minutes), kind, "so1", summary, data, id=n)


TRIAGE = {
    "hypotheses": [
        {"cause": "slow_queries", "confidence": 0.9, "evidence": ["p99 up"]},
        {"cause": "connection_exhaustion", "confidence": 0.85, "evidence": ["pool at 100%"]},
    ]
}
TIMELINE = (
    event(1, 0.5, "triage.report", "Triage: SEV2", **TRIAGE),
    event(2, 0.5, "agent.run", "agent triage-responder completed"),  # noisy: left out
    event(3, 30, "mitigation.finished", "set_variables finished", ok=True),
    event(4, 36, "hypothesis.rejected", "slow queries ruled out", cause="slow_queries"),
    event(5, 45, "verification.result", "verification stable", outcome="stable"),
    event(6, 1.5, "incident.acknowledged", "oncall-backend acknowledged"),
)
ALERT = Alert(
    "alt_1",
    AlertSource.EVENTS,
    "pd-alert-123",
    AlertStatus.RESOLVED,
    "API error rate 12% (threshold < 1%)",
    at(-1),
    at(20),
    incident_id=ID,
)
RECORD = IncidentRecord(
    incident=INCIDENT,
    severity_history=(SeverityChange(ID, None, Severity.SEV2, "triage", "triage", T0),),
    timeline=TIMELINE,
    alerts=(ALERT,),
    deployments=(
        Deployment("control-plane-api", "v2.14.0", at(-240), deployed_by="ci"),
        Deployment("control-plane-api", "v2.13.0", at(-60 * 30)),  # 30 h before: not a trigger
    ),
    messages=(
        Outbound(
            ID,
            Destination.WAR_ROOM,
            "internal",
            "declared",
            "🔴 declared",
            at(2),
            status=DeliveryStatus.SENT,
            sent_at=at(4.5),
            id=7,
        ),
    ),
    checks=(
        CheckResult("acknowledged", "Acknowledge", "1", CheckState.DONE, at(2), at(1.5), "ack"),
        CheckResult(
            "initial_communication", "First message", "2", CheckState.DONE, at(5), at(4.5), "sent"
        ),
        CheckResult("updates", "Status update", "2", CheckState.DONE_LATE, at(20), at(25), "late"),
    ),
    owner_lead="eng-lead",
    responders=("bo", "oncall-backend"),
    now=at(100),
)


def draft(method: AnalysisMethod | None = None, record: IncidentRecord = RECORD) -> Any:
    request = PostmortemRequest(ID, method)
    return PostmortemAnalyst().run(PostmortemInputs(request, record))


def test_key_times_durations_and_summary_come_from_the_record() -> None:
    made = draft()
    assert made.key_times.first_communication == at(4.5)
    assert made.key_times.mitigated == at(30)  # the finished mitigation, not the incident field
    durations = made.durations
    assert (durations.time_to_acknowledge_minutes, durations.time_to_resolve_minutes) == (1.5, 75)
    title = cause_titles()["connection_exhaustion"]
    assert made.summary == (
        "SEV2 incident on control-plane-api: API error rate spike. Resolved after 75 minutes."
        f" Root cause: {title} (90% confidence). Resolution: pool 20 → 50."
    )
    assert made.missing == ()


def test_the_root_cause_skips_the_rejected_hypothesis_and_is_confirmed_by_the_gates() -> None:
    cause = draft().root_cause
    assert cause is not None
    assert (cause.cause, cause.rejected, cause.source) == (
        "connection_exhaustion",
        ("slow_queries",),
        "event:1",
    )
    assert cause.confidence == 0.9  # 0.85, raised: the gates passed after the mitigation
    assert cause.confirmed_by == "the gates passed after the mitigation (event:5)"


def test_the_timeline_is_ordered_cited_and_without_noise() -> None:
    lines = [(line.source, line.ref) for line in draft().timeline]
    assert lines == [
        ("deployment", "deployment:control-plane-api:v2.14.0"),
        ("alert", "alt_1"),
        ("triage.report", "event:1"),
        ("incident.acknowledged", "event:6"),
        ("mitigation.finished", "event:3"),
        ("hypothesis.rejected", "event:4"),
        ("verification.result", "event:5"),
    ]


def test_five_whys_cite_the_record_and_action_items_have_owners_and_dates() -> None:
    made = draft()
    symptom, mechanism, trigger, safeguard, gap = made.whys
    assert (symptom.because, symptom.cites) == (ALERT.summary, ("alert:alt_1",))
    assert mechanism.cites == ("event:1",)
    assert trigger.because == "v2.14.0 of control-plane-api was deployed 4 h before detection"
    assert safeguard.cites == gap.cites == ("runbook knowledge: connection_exhaustion",)
    assert all(w.gap is None for w in made.whys)
    first = made.action_items[0]
    assert (first.owner, first.due, first.addresses) == (
        "eng-lead",
        (at(75) + timedelta(days=7)).date(),
        "connection_exhaustion",
    )
    assert made.fishbone is None


def test_what_went_well_and_where_we_got_lucky() -> None:
    made = draft()
    assert made.lucky == ("First message: done with 30 s to spare (message:7)",)  # 30 s of 300
    assert "Acknowledge: done with 30 s to spare (event:6)" in made.went_well  # 30 s of 120
    assert made.went_well[-1] == (
        "The first mitigation worked and held through the stability window (event:3, event:5)"
    )
    assert [c.id for c in made.late_checks] == ["updates"]


def test_claims_cite_only_real_events() -> None:
    """An acknowledgement time with no acknowledgement, and SO1's own late notice in the war
    room, are no grounds for what went well."""
    late_notice = Outbound(
        ID,
        Destination.WAR_ROOM,
        "internal",
        "runbook_late",
        "⏰ Runbook check late: Alert acknowledged",
        at(2.5),
        status=DeliveryStatus.SENT,
        sent_at=at(2.5),
        id=8,
    )
    unfounded = replace(
        RECORD,
        timeline=tuple(e for e in TIMELINE if e.kind != "incident.acknowledged"),
        messages=(late_notice,),
    )
    made = draft(record=unfounded)
    claims = made.went_well + made.lucky
    assert not [c for c in claims if c.startswith(("Acknowledge", "First message"))], claims
    assert made.key_times.first_communication is None  # the late notice told nobody anything
    assert "no message sent is recorded" in made.missing


def test_fishbone_and_a_thin_record_say_what_is_missing() -> None:
    thin = replace(
        RECORD,
        incident=replace(INCIDENT, resolved_at=None, acknowledged_at=None, commander=None),
        timeline=(),
        alerts=(),
        messages=(),
        owner_lead=None,
    )
    made = draft(AnalysisMethod.FISHBONE, thin)
    assert made.whys is None and made.fishbone is not None
    assert made.fishbone.technology == ()
    assert made.root_cause is None
    assert list(made.missing) == [
        "acknowledgement missed: nobody acknowledged the incident",
        "no mitigation is recorded",
        "no resolution is recorded",
        "no message sent is recorded",
        "no hypothesis: the root cause and its 5 whys need the meeting",
        "no alerts are linked to the incident",
        "no owner is known for the action items (no team lead or commander)",
    ]


def test_what_later_steps_read_back_of_the_kept_draft() -> None:
    kept = KeptDraft.from_json(draft().to_json())
    assert (kept.title, kept.detected, kept.cause, kept.confidence) == (
        "API error rate spike",
        T0,
        "connection_exhaustion",
        0.9,
    )
    assert [(i.owner, i.due) for i in kept.action_items] == [
        (i.owner, i.due) for i in draft().action_items
    ]
