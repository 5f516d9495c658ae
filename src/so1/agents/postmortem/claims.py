"""What went well and where we got lucky, claimed only on real events: a runbook check met
on time is a claim only when the record holds the act that met it (an acknowledgement, a
triage report or declaration, the war room opened, the commander's role, a message that
told people), and the claim cites it. A check met by an inference (an acknowledgement time
with no acknowledgement, SO1's own late notice in the war room) is not claimed. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from so1 import knowledge as packaged
from so1.agents.postmortem import record as rec
from so1.agents.postmortem.contract import IncidentRecord
from so1.domain.comms import Destination
from so1.domain.runbook import CheckResult

CLOSE_CALL = 0.2  # a check done in the last fifth of its time was a near miss
SAME_MOMENT = timedelta(seconds=1)
# The timeline events that are the act proving a check, by the check's evidence.
ACTS = {
    "acknowledged": ("incident.acknowledged", "alert.acknowledged"),
    "triaged": ("triage.report", "incident.declared", "incident.recorded", "severity.changed"),
    "war_room": ("war_room.opened",),
}


@cache
def check_evidence() -> dict[str, str]:
    """Each runbook check's evidence (knowledge/runbook.yaml), by check id."""
    phases = packaged.runbook()["phases"]
    return {str(c["id"]): str(c["evidence"]) for p in phases for c in p["checks"]}


def well_and_lucky(record: IncidentRecord) -> tuple[list[str], list[str]]:
    well: list[str] = []
    lucky: list[str] = []
    detected = record.incident.detected_at
    for check in rec.on_time(record.checks):
        due, done = check.due_at, check.done_at
        if due is None or done is None or due <= detected:
            continue
        cite = proof_of(record, check)
        if cite is None:
            continue
        spare = (due - done) / (due - detected)
        line = f"{check.title}: done with {int((due - done).total_seconds())} s to spare ({cite})"
        (lucky if spare < CLOSE_CALL else well).append(line)
    held = _mitigation_held(record)
    if held:
        well.append(f"The first mitigation worked and held through the stability window ({held})")
    return well, lucky


def proof_of(record: IncidentRecord, check: CheckResult) -> str | None:
    """The citation of the recorded act that met ``check`` by its done time, if any."""
    assert check.done_at is not None
    by = check.done_at + SAME_MOMENT
    return next((cite for at, cite in sorted(_acts(record, check)) if at <= by), None)


def _acts(record: IncidentRecord, check: CheckResult) -> list[tuple[datetime, str]]:
    evidence = check_evidence().get(check.id)
    if evidence == "first_message":
        return rec.communications(record, Destination.WAR_ROOM)
    if evidence == "status_page":
        return rec.communications(record, Destination.STATUS_PAGE)
    if evidence == "commander_present":
        roles = rec.events(record, "role.assumed")
        return [
            (e.occurred_at, f"event:{e.id}") for e in roles if e.data.get("role") == "commander"
        ]
    found = [
        (e.occurred_at, f"event:{e.id}") for e in rec.events(record, *ACTS.get(evidence or "", ()))
    ]
    if evidence == "acknowledged":
        found += [(a.acknowledged_at, f"alert:{a.id}") for a in record.alerts if a.acknowledged_at]
    return found


def _mitigation_held(record: IncidentRecord) -> str | None:
    """The citations of a first mitigation that worked and held, if it did."""
    finished = [e for e in rec.events(record, "mitigation.finished") if e.data.get("ok")]
    results = rec.events(record, "verification.result")
    outcomes = [e.data.get("outcome") for e in results]
    stable = [e for e in results if e.data.get("outcome") == "stable"]
    if len(finished) != 1 or "ineffective" in outcomes or not stable:
        return None
    return f"event:{finished[0].id}, event:{stable[0].id}"
