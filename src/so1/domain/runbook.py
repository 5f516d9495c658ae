"""The runbook's verification checks and their clocks, evaluated from an incident's record.

Nothing here is stored: a check's state is derived from the record (stamps, timeline, what
was delivered) and the time, so a restart loses no deadline. Recurring checks (updates every
15 minutes) are due one interval after the last proof, or after the anchor.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from so1.domain.severity import Severity

ANCHORS = ("detected", "declared", "resolved")
EVIDENCE = (
    "acknowledged",
    "triaged",
    "war_room",
    "commander_present",
    "first_message",
    "status_page",
    "update",
    "mitigated",
    "resolved",
    "postmortem_drafted",
    "postmortem_published",
    "root_cause_confident",  # published with a root cause at over 85% confidence
    "action_items_owned",  # published with every action item owned and dated
    "learnings_linked",  # a runbook or knowledge change linked to the postmortem
)


class CheckState(enum.StrEnum):
    DONE = "done"
    DONE_LATE = "done_late"  # done, after its deadline
    PENDING = "pending"  # not done; its deadline is ahead (or it has none)
    LATE = "late"  # not done and past its deadline
    WAITING = "waiting"  # its clock has not started (e.g. the postmortem before resolution)
    NOT_APPLICABLE = "not_applicable"  # not for this severity


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    title: str
    phase: str
    evidence: str
    after: str | None = None
    within: timedelta | None = None
    every: timedelta | None = None
    severities: frozenset[Severity] | None = None
    escalate: bool = False


@dataclass(frozen=True, slots=True)
class Facts:
    """What the record proves: anchor times, the first time each piece of evidence appeared
    (with a description), and every time the recurring evidence appeared."""

    severity: Severity
    anchors: dict[str, datetime | None]
    proofs: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    repeats: dict[str, list[datetime]] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)  # why evidence is not there yet


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    title: str
    phase: str
    state: CheckState
    due_at: datetime | None
    done_at: datetime | None
    evidence: str
    escalate: bool = False
    occurrence: int = 0  # which deadline of a recurring check (fires once each)


def evaluate(specs: Sequence[CheckSpec], facts: Facts, now: datetime) -> list[CheckResult]:
    return [_evaluate(spec, facts, now) for spec in specs]


def _result(
    spec: CheckSpec,
    state: CheckState,
    due: datetime | None,
    done: datetime | None,
    text: str,
    occurrence: int = 0,
) -> CheckResult:
    return CheckResult(
        spec.id, spec.title, spec.phase, state, due, done, text, spec.escalate, occurrence
    )


def _evaluate(spec: CheckSpec, facts: Facts, now: datetime) -> CheckResult:
    if spec.severities is not None and facts.severity not in spec.severities:
        text = f"not required for {facts.severity}"
        return _result(spec, CheckState.NOT_APPLICABLE, None, None, text)
    anchor = facts.anchors.get(spec.after) if spec.after else None
    if spec.after and anchor is None:
        text = f"starts when the incident is {spec.after}"
        return _result(spec, CheckState.WAITING, None, None, text)
    if spec.every is not None and anchor is not None:
        return _recurring(spec, facts, now, anchor)
    due = anchor + spec.within if anchor is not None and spec.within else None
    proof = facts.proofs.get(spec.evidence)
    if proof is not None:
        done_at, text = proof
        state = CheckState.DONE_LATE if due is not None and done_at > due else CheckState.DONE
        return _result(spec, state, due, done_at, text)
    waiting = facts.waiting.get(spec.evidence)
    if due is not None and now > due:
        text = f"not done; due {_hm(due)}" + (f"; {waiting}" if waiting else "")
        return _result(spec, CheckState.LATE, due, None, text)
    return _result(spec, CheckState.PENDING, due, None, waiting or "not done yet")


def _recurring(spec: CheckSpec, facts: Facts, now: datetime, anchor: datetime) -> CheckResult:
    """Due one interval after the last proof (or the anchor); counts the gaps so far."""
    assert spec.every is not None
    resolved = facts.anchors.get("resolved")
    end = resolved or now
    previous, missed = anchor, 0
    for at in sorted(t for t in facts.repeats.get(spec.evidence, []) if anchor <= t <= end):
        missed += at - previous > spec.every
        previous = at
    due = previous + spec.every
    occurrence = int(due.timestamp())  # one alarm per deadline
    last = f"last at {_hm(previous)}" if previous != anchor else "none yet"
    if resolved is not None:
        state = CheckState.DONE_LATE if missed or end > due else CheckState.DONE
        return _result(spec, state, None, previous, f"{last}; {missed} interval(s) missed")
    if now > due:
        text = f"{last}; next was due {_hm(due)}"
        return _result(spec, CheckState.LATE, due, None, text, occurrence)
    return _result(spec, CheckState.PENDING, due, None, f"{last}; next due {_hm(due)}", occurrence)


def _hm(at: datetime) -> str:
    return at.strftime("%H:%M:%S UTC")
