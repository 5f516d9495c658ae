"""Every kind of timeline event, by name: the one list of what an incident's story can say.

The values are the strings stored in ``timeline_events.kind`` and shown by the API, so they
never change; a new kind is a new member. ``record()`` (services/incidents/recording.py) takes
only these, and every reader filters and compares with them.
"""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    # the incident itself
    INCIDENT_RECORDED = "incident.recorded"  # created, not declared (no war room yet)
    INCIDENT_DECLARED = "incident.declared"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    INCIDENT_STORM = "incident.storm"
    SEVERITY_CHANGED = "severity.changed"
    STATUS_CHANGED = "status.changed"
    ROLE_ASSUMED = "role.assumed"
    ROLE_RENOUNCED = "role.renounced"
    # intake and triage
    TRIAGE_REPORT = "triage.report"
    ALERT_CORRELATED = "alert.correlated"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_RESOLVED = "alert.resolved"
    ALERT_NOTE = "alert.note"
    # declaration and communication
    WAR_ROOM_OPENED = "war_room.opened"
    WAR_ROOM_MESSAGE = "war_room.message"
    COMMUNICATION_SENT = "communication.sent"
    COMMUNICATION_FAILED = "communication.failed"
    STATUS_PAGE_DRAFT_EDITED = "status_page.draft_edited"  # approval "draft": a person edited it
    STATUS_PAGE_PUBLISHED = "status_page.published"  # a person published a draft
    ESCALATION_STEP = "escalation.step"
    RESPONDER_PAGED = "responder.paged"  # someone paged in by hand
    RUNBOOK_LATE = "runbook.late"
    # investigation
    HYPOTHESIS_DOCUMENTED = "hypothesis.documented"
    HYPOTHESIS_REJECTED = "hypothesis.rejected"
    CHECKLIST_TICKED = "checklist.ticked"
    DATABASE_PLAYBOOK_STARTED = "playbook.database.started"
    DATABASE_SIGNAL = "database.signal"
    EVIDENCE_BUNDLE = "evidence.bundle"
    # mitigation
    MITIGATION_STARTED = "mitigation.started"
    MITIGATION_AWAITING_APPROVAL = "mitigation.awaiting_approval"
    MITIGATION_REFUSED = "mitigation.refused"
    MITIGATION_APPROVED = "mitigation.approved"
    MITIGATION_DECLINED = "mitigation.declined"
    MITIGATION_PROGRESS = "mitigation.progress"
    MITIGATION_FINISHED = "mitigation.finished"
    MITIGATION_FAILED = "mitigation.failed"
    FLAG_FLIPPED = "flag.flipped"
    # verification
    HEALTH_CHANGED = "health.changed"
    VERIFICATION_RESULT = "verification.result"
    # postmortem
    POSTMORTEM_DRAFTED = "postmortem.drafted"
    POSTMORTEM_EDITED = "postmortem.edited"
    POSTMORTEM_COMMENTED = "postmortem.commented"
    POSTMORTEM_IN_REVIEW = "postmortem.in_review"
    POSTMORTEM_CHECKED = "postmortem.checked"
    POSTMORTEM_PUBLISHED = "postmortem.published"
    LEARNING_LINKED = "learning.linked"
    ACTION_ITEM_UPDATED = "action_item.updated"


MITIGATION_KINDS = frozenset(k for k in EventKind if k.value.startswith("mitigation."))
