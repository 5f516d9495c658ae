"""Reviewing and publishing a postmortem: edits keep a revision history, comments, the
runbook's review checks ticked by name, draft → in review → published. Publishing writes the
markdown file (and commits it when configured) without the draft's wording, and opens the
action items. Who counts as a reviewer: ``reviewers``; the meeting: ``meeting``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from so1.agents.postmortem.contract import KeptDraft
from so1.domain.postmortem import Postmortem, PostmortemStatus
from so1.domain.timeline import EventKind
from so1.errors import Conflict, NotFound, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act
from so1.services.declaration.outbox import queue_archive
from so1.services.incidents.recording import Actor, Change, record
from so1.services.postmortem.reviewers import published_text, require_reviewed, tick_entry

# The runbook's review checks (Phase 5 "Review and publish").
REVIEW_CHECKS = {
    "timeline_accurate": "Timeline accuracy",
    "root_cause_validated": "Root cause validated",
    "action_items_complete": "Action items complete",
}
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
        revisions = [*found.meta.get("revisions", []), revision]
        meta = found.meta | {"revisions": revisions, "author": actor.holder}
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
            check: {"by": actor.holder, "at": now.isoformat(), "version": found.version}
        }
        ticks = [*found.meta.get("ticks", []), tick_entry(actor, check, found.version, now)]
        meta = found.meta | {"checks": checks, "ticks": ticks}
        after = replace(found, meta=meta, updated_at=now)
        _save(
            uow,
            actor,
            now,
            after,
            f"review check ✅ {REVIEW_CHECKS[check]} ({actor.holder}, v{found.version})",
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
    reviewers_needed: int = 1,
) -> Postmortem:
    """In review, every check ticked by ``reviewers_needed`` people other than the author and
    the publisher → published, without the draft's wording: the file written, the action
    items opened, and with ``archive_war_room`` a last war-room message that archives the
    channel."""
    now = clock.now()
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        reviewers = _reviewed(found, actor, reviewers_needed)
    final = published_text(found.markdown, reviewers, actor.holder, now)
    where = publisher(replace(found, markdown=final), now) if publisher else None
    with uow_factory() as uow:
        found = _load(uow, incident_id, actor)
        reviewers = _reviewed(found, actor, reviewers_needed)
        items = _open_action_items(uow, found, now)
        after = replace(
            found,
            status=PostmortemStatus.PUBLISHED,
            markdown=final,
            version=found.version + 1,
            published_at=now,
            updated_at=now,
            meta=found.meta | _publication(found, actor, now, where, reviewers, items),
        )
        _save(
            uow,
            actor,
            now,
            after,
            f"postmortem published{f' to {where}' if where else ''}, reviewed by "
            f"{', '.join(reviewers)}; {len(items)} action items opened",
            EventKind.POSTMORTEM_PUBLISHED,
            **_quality(after),
        )
        if archive_war_room:
            queue_archive(uow, now, incident_id, where)
        uow.commit()
    return after


def _reviewed(found: Postmortem, actor: Actor, needed: int) -> list[str]:
    """The reviewers, when the postmortem may be published; a Conflict saying why not."""
    if found.status is not PostmortemStatus.IN_REVIEW:
        raise Conflict(
            f"only a postmortem in review is published; this one is {found.status.value}"
        )
    ticked = found.meta.get("checks") or {}
    missing = [label for key, label in REVIEW_CHECKS.items() if key not in ticked]
    if missing:
        raise Conflict(f"review checks not ticked: {', '.join(missing)}")
    return require_reviewed(found, REVIEW_CHECKS, actor.holder, needed)


def _publication(
    found: Postmortem,
    actor: Actor,
    now: datetime,
    where: str | None,
    reviewers: list[str],
    items: list[int],
) -> dict[str, Any]:
    """What publishing adds to the review record; the reviewed draft stays a revision."""
    reviewed = {
        "version": found.version,
        "markdown": found.markdown,
        "at": now.isoformat(),
        "replaced_by": actor.holder,
        "note": "published: the draft's wording removed",
    }
    return {
        "published_to": where,
        "action_item_ids": items,
        "reviewers": reviewers,
        "published_by": actor.holder,
        "revisions": [*found.meta.get("revisions", []), reviewed],
    }


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
