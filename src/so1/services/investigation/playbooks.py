"""The runbook's common scenarios (knowledge/playbooks.yaml) as checklists on an incident:
each item ticked by a person (who and when on the timeline), and the complete-outage quick
start: SEV0, and a rollback requested when a deployment in the last 4 hours is implicated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from so1 import knowledge
from so1.agents.deployer.contract import DeployerRequest
from so1.domain.investigation import RECENT_DEPLOY
from so1.domain.platform import PlatformAction
from so1.domain.records import AgentRun
from so1.domain.severity import Severity
from so1.domain.timeline import EventKind
from so1.errors import NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read
from so1.services.incidents.lifecycle import IncidentPatch, get_incident, update_incident
from so1.services.incidents.recording import Actor, Change, record
from so1.services.mitigation.runs import DeployerDeps, deployer_request

TICKED = EventKind.CHECKLIST_TICKED


@cache
def playbooks() -> dict[str, Any]:
    loaded: dict[str, Any] = knowledge.playbooks()
    return loaded


def _playbook(name: str) -> dict[str, Any]:
    found = playbooks().get(name)
    if found is None:
        raise NotFound(f"no playbook '{name}' (known: {', '.join(sorted(playbooks()))})")
    return dict(found)


@dataclass(frozen=True)
class Item:
    number: int
    text: str
    so1: str | None
    done_by: str | None
    done_at: datetime | None
    note: str | None


def checklist(
    uow_factory: UnitOfWorkFactory, actor: Actor, incident_id: str, name: str
) -> tuple[dict[str, Any], list[Item]]:
    book = _playbook(name)
    with uow_factory(read_only=True) as uow:
        _check(uow, actor, incident_id)
        ticks = {
            e.data.get("item"): e
            for e in uow.timeline.for_incident(incident_id, [TICKED])
            if e.data.get("playbook") == name
        }
    items = []
    for number, entry in enumerate(book["checklist"], 1):
        tick = ticks.get(number)
        items.append(
            Item(
                number,
                entry["text"],
                entry.get("so1"),
                tick.actor if tick else None,
                tick.occurred_at if tick else None,
                tick.data.get("note") if tick else None,
            )
        )
    return book, items


def tick(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    name: str,
    number: int,
    note: str | None = None,
) -> None:
    book = _playbook(name)
    if not 1 <= number <= len(book["checklist"]):
        raise ValidationFailed(f"'{name}' has items 1 to {len(book['checklist'])}", "item")
    text = book["checklist"][number - 1]["text"]
    with uow_factory() as uow:
        _check(uow, actor, incident_id, acting=True)
        detail = {"playbook": name, "item": number, "note": note}
        summary = f"{book['title']}: ✅ {text}" + (f" ({note})" if note else "")
        record(
            uow,
            actor,
            clock.now(),
            Change("playbook.tick", "incident", incident_id, summary, detail, incident_id, TICKED),
        )
        uow.commit()


def _check(uow: UnitOfWork, actor: Actor, incident_id: str, acting: bool = False) -> None:
    check = require_act if acting else require_read
    if check(uow, actor, incident_id) is None:
        raise NotFound(f"incident {incident_id} does not exist")


def outage_quick_start(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    deployer: DeployerDeps | None,
) -> tuple[list[str], AgentRun | None]:
    """SEV0, and a rollback requested when the service was deployed in the last 4 hours.
    Returns what was done and the rollback run (awaiting approval under the SEV0 policy)."""
    with uow_factory(read_only=True) as uow:
        _check(uow, actor, incident_id, acting=True)
    incident = get_incident(uow_factory, incident_id, actor)
    done: list[str] = []
    if incident.severity is not Severity.SEV0:
        update_incident(
            uow_factory,
            clock,
            actor,
            incident_id,
            IncidentPatch(severity=Severity.SEV0, severity_reason="complete outage playbook"),
        )
        done.append(f"severity {incident.severity.value} → SEV0")
    if incident.service is None:
        return [*done, "no service on the incident: no deployment to check"], None
    since = clock.now() - RECENT_DEPLOY
    with uow_factory(read_only=True) as uow:
        recent = uow.deployments.recent(since, incident.service)
    if not recent:
        return [*done, f"no deployment of {incident.service} in the last 4 hours"], None
    if deployer is None:
        return [*done, f"{recent[0].version} deployed recently; no platform to roll back"], None
    rollback = DeployerRequest(
        PlatformAction.ROLLBACK, incident.service, incident_id, target_version="previous"
    )
    run = deployer_request(uow_factory, clock, actor, deployer, rollback)
    done.append(
        f"{recent[0].version} deployed {recent[0].deployed_at:%H:%M}: rollback requested "
        f"({run.status.value})"
    )
    return done, run
