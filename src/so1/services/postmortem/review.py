"""Reviewing and publishing a postmortem: edits keep a revision history, comments, the
runbook's review checks ticked by name, draft → in review → published. Publishing writes the
markdown file (and commits it when configured), opens the action items and invites to the
review meeting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

from so1.agents.postmortem.contract import KeptDraft
from so1.domain.postmortem import Postmortem, PostmortemStatus
from so1.domain.timeline import EventKind
from so1.errors import Conflict, NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read
from so1.services.declaration.outbox import queue_archive
from so1.services.incidents.recording import Actor, Change, record

# The runbook's review checks (Phase 5 "Review and publish").
REVIEW_CHECKS = {
    "timeline_accurate": "Timeline accuracy",
    "root_cause_validated": "Root cause validated",
    "action_items_complete": "Action items complete",
}
MEETING_AT = time(14, 0)  # seed: "Postmortem scheduled for tomorrow 2pm"
Publisher = Callable[[Postmortem, datetime], str]  # returns where it was published


class Folder(Protocol):
    def publish(self, day: date, title: str, markdown: str, message: str) -> Path: ...


def file_writer(folder: Folder) -> Publisher:
    """Publishing as a file named by the day of detection and the title."""

    def write(found: Postmortem, now: datetime) -> str:
        kept = KeptDraft.from_json(found.draft)
        day, title = (kept.detected or now).date(), kept.title
        message = f"Postmortem: {found.incident_id} - {title}"
        return str(folder.publish(day, title, found.markdown, message))

    return write


def _load(uow: UnitOfWork, incident_id: str, actor: Actor) -> Postmortem:
    """The postmortem ``actor`` is about to work on (clearance: acting on it)."""
    require_act(uow, actor, incident_id)
    found = uow.postmortems.get(incident_id)
    if found is None:
        raise NotFound(f"incident {incident_id} has no postmortem yet")
    return found


def _save(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    after: Postmortem,
    text: str,
    kind: EventKind,
    **extra: Any,
) -> None:
    uow.postmortems.put(after)
    detail = {"version": after.version, "status": after.status.value} | extra
    record(
        uow,
        actor,
        now,
        Change(kind, "postmortem", after.incident_id, text, detail, after.incident_id, kind),
    )


def _not_published(found: Postmortem) -> None:
    if found.status is PostmortemStatus.PUBLISHED:
        raise Conflict(f"the postmortem of {found.incident_id} is published; it no longer changes")


def edit(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    markdown: str,
    note: str | None = None,
) -> Postmortem:
    """A new revision of the document; the one before stays in the history."""
    now = clock.now()
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        _not_published(found)
        revision = {
            "version": found.version,
            "markdown": found.markdown,
            "at": now.isoformat(),
            "replaced_by": actor.name,
            "note": note,
        }
        meta = found.meta | {"revisions": [*found.meta.get("revisions", []), revision]}
        after = replace(
            found, markdown=markdown, version=found.version + 1, updated_at=now, meta=meta
        )
        _save(
            uow,
            actor,
            now,
            after,
            f"postmortem edited (v{after.version})" + (f": {note}" if note else ""),
            EventKind.POSTMORTEM_EDITED,
        )
        uow.commit()
    return after


def comment(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str, text: str
) -> Postmortem:
    now = clock.now()
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        entry = {"by": actor.name, "at": now.isoformat(), "text": text}
        after = replace(
            found,
            meta=found.meta | {"comments": [*found.meta.get("comments", []), entry]},
            updated_at=now,
        )
        _save(
            uow,
            actor,
            now,
            after,
            f"comment by {actor.name}: {text[:200]}",
            EventKind.POSTMORTEM_COMMENTED,
        )
        uow.commit()
    return after


def submit(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str
) -> Postmortem:
    now = clock.now()
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        if found.status is not PostmortemStatus.DRAFT:
            raise Conflict(f"the postmortem is {found.status.value}, not a draft")
        after = replace(found, status=PostmortemStatus.IN_REVIEW, updated_at=now)
        _save(uow, actor, now, after, "postmortem sent for review", EventKind.POSTMORTEM_IN_REVIEW)
        uow.commit()
    return after


def tick(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str, check: str
) -> Postmortem:
    if check not in REVIEW_CHECKS:
        raise ValidationFailed(f"'check' is one of: {', '.join(REVIEW_CHECKS)}", field="check")
    now = clock.now()
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        _not_published(found)
        checks = dict(found.meta.get("checks") or {}) | {
            check: {"by": actor.name, "at": now.isoformat()}
        }
        after = replace(found, meta=found.meta | {"checks": checks}, updated_at=now)
        _save(
            uow,
            actor,
            now,
            after,
            f"review check ✅ {REVIEW_CHECKS[check]} ({actor.name})",
            EventKind.POSTMORTEM_CHECKED,
        )
        uow.commit()
    return after


def publish(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    publisher: Publisher | None,
    archive_war_room: bool = False,
) -> Postmortem:
    """In review, every check ticked → published: the file written, the action items opened,
    and with ``archive_war_room`` a last war-room message that archives the channel."""
    now = clock.now()
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        if found.status is not PostmortemStatus.IN_REVIEW:
            raise Conflict(
                f"only a postmortem in review is published; this one is {found.status.value}"
            )
        missing = [
            label
            for key, label in REVIEW_CHECKS.items()
            if key not in (found.meta.get("checks") or {})
        ]
        if missing:
            raise Conflict(f"review checks not ticked: {', '.join(missing)}")
    where = publisher(found, now) if publisher else None
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        items = _open_action_items(uow, found, now)
        after = replace(
            found,
            status=PostmortemStatus.PUBLISHED,
            published_at=now,
            updated_at=now,
            meta=found.meta | {"published_to": where, "action_item_ids": items},
        )
        _save(
            uow,
            actor,
            now,
            after,
            f"postmortem published{f' to {where}' if where else ''}; "
            f"{len(items)} action items opened",
            EventKind.POSTMORTEM_PUBLISHED,
            **_quality(after),
        )
        if archive_war_room:
            queue_archive(uow, now, incident_id, where)
        uow.commit()
    return after


def _quality(found: Postmortem) -> dict[str, Any]:
    """What the runbook's Phase 5 verification reads from the publication."""
    kept = KeptDraft.from_json(found.draft)
    items = kept.action_items
    owned = bool(items) and all(i.owner and i.due for i in items)
    return {"root_cause_confidence": kept.confidence, "action_items_owned": owned}


def link_learning(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    incident_id: str,
    summary: str,
    reference: str,
) -> None:
    """A runbook or knowledge change that incorporates what the postmortem taught (a commit,
    a pull request, a file in knowledge/), linked on the incident's timeline."""
    with uow_factory() as uow:
        _load(uow, incident_id, actor)
        text = f"learning incorporated: {summary} ({reference})"
        detail = {"summary": summary, "reference": reference}
        record(
            uow,
            actor,
            clock.now(),
            Change(
                "postmortem.learning",
                "postmortem",
                incident_id,
                text,
                detail,
                incident_id,
                EventKind.LEARNING_LINKED,
            ),
        )
        uow.commit()


def _open_action_items(uow: UnitOfWork, found: Postmortem, now: datetime) -> list[int]:
    return [
        uow.action_items.add(found.incident_id, i.title, i.owner, i.due, i.priority, now)
        for i in KeptDraft.from_json(found.draft).action_items
    ]


def meeting_time(resolved_at: datetime) -> datetime:
    """The first 14:00 UTC at least 24 hours after resolution (so within 24-48 hours)."""
    earliest = resolved_at.astimezone(UTC) + timedelta(hours=24)
    slot = datetime.combine(earliest.date(), MEETING_AT, tzinfo=UTC)
    return slot if slot >= earliest else slot + timedelta(days=1)


def meeting_details(uow: UnitOfWork, actor: Actor, incident_id: str) -> dict[str, Any]:
    """Who is invited: the commander, the responders and the affected teams' leads."""
    incident = require_read(uow, actor, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    handles = {p.handle for p in uow.participants.history(incident_id)}
    if incident.commander:
        handles.add(incident.commander)
    service = uow.catalog.get(incident.service) if incident.service else None
    team = next((t for t in uow.oncall.teams() if service and t.name == service.owner_team), None)
    if team and team.lead:
        handles.add(team.lead)
    people = [p for p in uow.oncall.people() if p.handle in handles]
    return {"incident": incident, "people": people, "handles": sorted(handles)}
