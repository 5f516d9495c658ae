"""A severity change on a declared incident (the runbook's severity table): what the new level
asks for that has not happened yet, and what no longer applies. Pure and deterministic: the
incident-commander plans the new level as if declaring, and only what is missing is kept;
services/declaration/severity carries the plan out through the outbox.

Going up into SEV0-1: the status-page notice, the escalation to the engineering lead and its
page, for SEV0 the all-hands message and the executive's page, each only when not already in
the outbox; the commander re-checked against the table. Going down out of SEV0-1: the status
page told the impact is reduced (only when it spoke) and the lead's and executive's pages
resolved at the pager. Always: a war-room message and the topic saying what changed and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from so1.agents.commander.agent import IncidentCommander
from so1.agents.commander.comms import UPDATE_MINUTES, comms
from so1.agents.commander.contract import CommanderInputs, PlannedMessage, PlannedPage
from so1.domain.comms import Destination
from so1.domain.severity import SEVERITY_TABLE, Severity

# What a level adds to the declaration's messages (destination, kind).
LEVEL_MESSAGES = frozenset(
    {
        (Destination.STATUS_PAGE, "declared"),
        (Destination.WAR_ROOM, "escalation"),
        (Destination.WAR_ROOM, "all_hands"),
    }
)


@dataclass(frozen=True, slots=True)
class SeverityShift:
    before: Severity
    after: Severity
    reason: str
    by: str

    @property
    def raised_into_major(self) -> bool:
        """Up, to SEV0 or SEV1: the new level's actions run."""
        return self.after.rank < self.before.rank and self.after.rank <= 1

    @property
    def left_major(self) -> bool:
        """Down, out of SEV0-1: what only those levels need stops."""
        return self.before.rank <= 1 < self.after.rank


@dataclass(frozen=True, slots=True)
class DoneSoFar:
    """What the outbox already holds for the incident."""

    said: frozenset[tuple[Destination, str]]  # (destination, kind) of every message
    paged: frozenset[str]  # handles paged by the declaration or an earlier severity change
    commander: str | None
    public_title: str | None = None  # the status page's title, when it spoke


@dataclass(frozen=True, slots=True)
class SeverityPlan:
    severity: Severity
    commander: str | None  # after the re-check (the same person when still fit)
    owning_team: str | None
    topic: str
    responders: tuple[str, ...]  # who joins for the new level (lead, executive)
    messages: tuple[PlannedMessage, ...]  # the war-room message about the change is last
    pages: tuple[PlannedPage, ...]
    unpage: tuple[str, ...]  # pages that no longer apply, resolved at the pager
    decisions: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity.value,
            "commander": self.commander,
            "topic": self.topic,
            "responders": list(self.responders),
            "messages": [m.to_json() for m in self.messages],
            "pages": [p.to_json() for p in self.pages],
            "unpage": list(self.unpage),
            "decisions": list(self.decisions),
        }


def plan_severity_change(
    inputs: CommanderInputs, shift: SeverityShift, done: DoneSoFar
) -> SeverityPlan:
    """``inputs`` describe the incident (its channel set); the plan for ``shift``."""
    asked = replace(inputs, severity=shift.after, requested_commander=done.commander)
    full = IncidentCommander().run(asked)
    commander = done.commander
    decisions: list[str] = []
    messages: list[PlannedMessage] = []
    pages: list[PlannedPage] = []
    responders: list[str] = []
    unpage: list[str] = []
    if shift.raised_into_major:
        if full.commander and full.commander != commander:
            commander = full.commander
        decisions = list(full.decisions)  # the commander re-checked, who is missing
        messages = [m for m in full.messages if _missing(m, done)]
        pages = [p for p in full.pages if p.handle not in done.paged]
        responders = [h for h in (full.lead, full.executive) if h]
    if shift.left_major:
        messages = _lowered_status_page(done)
        unpage = _escalations_to_stop(asked, shift, done, full.pages, commander)
    topic = comms().render(
        "topic",
        severity=shift.after.value,
        title_plain=inputs.title,
        commander=commander,
    )
    actions = _action_lines(shift, done, commander, messages, pages, unpage)
    note = _change_message(shift, commander, actions + decisions)
    return SeverityPlan(
        severity=shift.after,
        commander=commander,
        owning_team=full.owning_team,
        topic=topic,
        responders=tuple(responders),
        messages=(*messages, note),
        pages=tuple(pages),
        unpage=tuple(unpage),
        decisions=tuple(decisions),
    )


def _missing(message: PlannedMessage, done: DoneSoFar) -> bool:
    """A level's message that has not been sent; the status page speaks once."""
    if (message.to, message.kind) not in LEVEL_MESSAGES:
        return False
    if message.to is Destination.STATUS_PAGE:
        return done.public_title is None
    return (message.to, message.kind) not in done.said


def _escalations_to_stop(
    asked: CommanderInputs,
    shift: SeverityShift,
    done: DoneSoFar,
    needed: tuple[PlannedPage, ...],
    commander: str | None,
) -> list[str]:
    """The lead's and the executive's pages of the old level, when the new one does not
    page them; the commander and whoever else was paged are left alone."""
    old = IncidentCommander().run(replace(asked, severity=shift.before))
    keep = {p.handle for p in needed} | {commander}
    escalated = {h for h in (old.lead, old.executive) if h}
    return sorted(h for h in escalated if h in done.paged and h not in keep)


def _lowered_status_page(done: DoneSoFar) -> list[PlannedMessage]:
    if done.public_title is None:
        return []  # customers were never told: nothing to take back
    text = comms().render("lowered_status_page", public_title=done.public_title)
    page = Destination.STATUS_PAGE
    return [PlannedMessage(page, "customer", "update", text, done.public_title, "identified")]


def _action_lines(
    shift: SeverityShift,
    done: DoneSoFar,
    commander: str | None,
    messages: list[PlannedMessage],
    pages: list[PlannedPage],
    unpage: list[str],
) -> list[str]:
    lines = []
    if commander != done.commander:
        role = SEVERITY_TABLE[shift.after].commander_role
        lines.append(f"commander is now @{commander} ({shift.after} needs: {role})")
    described = {
        (Destination.STATUS_PAGE, "declared"): "status page: customers told",
        (Destination.STATUS_PAGE, "update"): "status page: customers told the impact is reduced",
        (Destination.WAR_ROOM, "escalation"): "escalated to the engineering lead",
        (Destination.WAR_ROOM, "all_hands"): "all-hands notification sent",
    }
    lines += [described[(m.to, m.kind)] for m in messages if (m.to, m.kind) in described]
    lines += [f"paging @{p.handle} ({p.reason})" for p in pages]
    lines += [f"page of @{h} resolved: no longer needed at {shift.after}" for h in unpage]
    if shift.left_major and done.public_title is not None:
        lines.append(
            f"the status page needs no updates every {UPDATE_MINUTES} min at {shift.after}"
            " (its resolved notice still follows)"
        )
    if shift.before is Severity.SEV0 and shift.after is not Severity.SEV0:
        lines.append(f"the all-hands and the executive escalation no longer apply at {shift.after}")
    return lines


def _change_message(
    shift: SeverityShift, commander: str | None, lines: list[str]
) -> PlannedMessage:
    raised = shift.after.rank < shift.before.rank
    text = comms().render(
        "severity_changed",
        arrow="⬆️" if raised else "⬇️",
        verb="raised" if raised else "lowered",
        before=shift.before.value,
        after=shift.after.value,
        by=shift.by,
        reason=shift.reason,
        commander=commander,
        actions=lines,
    )
    return PlannedMessage(Destination.WAR_ROOM, "internal", "severity_changed", text)
