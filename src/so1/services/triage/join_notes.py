"""The timeline's account of alerts joining open incidents: a note a minute at most.

A storm brings thousands of alerts to one incident, a triage pass at a time, and a note per
pass put hundreds of near-identical lines on its timeline (263 for a storm of 10,000 alerts).
Now alerts that join an incident get a "correlated" note when its last one is a minute old or
more, or is the note of a triaged alert (``alert joined: ...``, which says what triage made of
one alert, not how many came). The alerts that join meanwhile are counted by the next note:
"correlated N alert(s) since 12:00:01 UTC (T in all)", written by the next pass that finds it
due or, when no more alerts come, by the clocks pass (``note_joined_since``). Every note keeps
the incident's alert count when it was written (``data.total``), so the next one knows how
many joined since, whichever worker writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from so1.domain.alerts import Alert
from so1.domain.incidents import OPEN_STATUSES, TimelineEvent
from so1.domain.records import AgentName
from so1.domain.timeline import EventKind
from so1.ports import Clock, IncidentFilter, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, noted, record_many
from so1.services.runbook.clocks import WATCH_LIMIT

NOTE_EVERY = timedelta(seconds=60)
TRIAGE_ACTOR = Actor(name=AgentName.TRIAGE)
Note = tuple[EventKind, str, dict[str, Any]]


def joined_notes(
    uow: UnitOfWork, now: datetime, joined: Mapping[str, Sequence[Alert]]
) -> list[Change]:
    """The notes due for these incidents, whose ``joined`` alerts were just attached."""
    latest = uow.timeline.latest(sorted(joined), EventKind.ALERT_CORRELATED)
    due = [incident_id for incident_id in sorted(joined) if _due(latest.get(incident_id), now)]
    totals = uow.alerts.count_for_incidents(due) if due else {}
    return [noted(i, *correlated(joined[i], totals.get(i, 0), latest.get(i))) for i in due]


def correlated(alerts: Sequence[Alert], total: int, last: TimelineEvent | None = None) -> Note:
    """The note for ``alerts`` joining an incident that now holds ``total`` alerts; with the
    incident's ``last`` note, it counts those that joined since that note too."""
    shown = "; ".join(f"{a.summary} ({a.service or 'no service'})" for a in alerts[:3])
    more = f" and {len(alerts) - 3} more" if len(alerts) > 3 else ""
    since = noted_total(last)
    if last is None or since is None or total - since <= len(alerts):
        count = len(alerts)
        text = f"correlated {count} alert(s): {shown}{more}"
    else:
        count = total - since
        text = f"{_since(count, total, last)}; latest: {shown}{more}"
    data = {"alert_ids": [a.id for a in alerts[:100]], "count": count, "total": total}
    return EventKind.ALERT_CORRELATED, text, data


def noted_total(note: TimelineEvent | None) -> int | None:
    """The incident's alert count when ``note`` was written (None: not known)."""
    total = note.data.get("total") if note is not None else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _since(count: int, total: int, last: TimelineEvent) -> str:
    return f"correlated {count} alert(s) since {last.occurred_at:%H:%M:%S} UTC ({total} in all)"


def _due(last: TimelineEvent | None, now: datetime) -> bool:
    """A note is due with no note before, after a triaged alert's note, or a minute on."""
    return last is None or "triage" in last.data or now - last.occurred_at >= NOTE_EVERY


def note_joined_since(uow_factory: UnitOfWorkFactory, clock: Clock) -> int:
    """Notes for the alerts that joined open incidents since their last note, where that note
    is due and no triage pass wrote it (the last alerts of a storm); returns how many."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        watched = IncidentFilter(status=OPEN_STATUSES, limit=WATCH_LIMIT)
        incidents, _ = uow.incidents.search(watched)
        if not _unannounced(uow, now, [i.id for i in incidents]):
            return 0
    with uow_factory() as uow:  # again where it is written: another worker may have noted
        pending = _unannounced(uow, now, [i.id for i in incidents])
        notes = [
            noted(
                incident_id,
                EventKind.ALERT_CORRELATED,
                _since(total - since, total, last),
                {"count": total - since, "total": total},
            )
            for incident_id, (last, since, total) in pending.items()
        ]
        record_many(uow, TRIAGE_ACTOR, now, notes)
        uow.commit()
    return len(notes)


def _unannounced(
    uow: UnitOfWork, now: datetime, incident_ids: Sequence[str]
) -> dict[str, tuple[TimelineEvent, int, int]]:
    """Incidents whose last note is due and holds fewer alerts than they do now: that note,
    its count, and theirs."""
    latest = uow.timeline.latest(incident_ids, EventKind.ALERT_CORRELATED) if incident_ids else {}
    counted = {
        incident_id: (note, since)
        for incident_id, note in latest.items()
        if (since := noted_total(note)) is not None and now - note.occurred_at >= NOTE_EVERY
    }
    totals = uow.alerts.count_for_incidents(sorted(counted)) if counted else {}
    return {
        incident_id: (note, since, totals.get(incident_id, 0))
        for incident_id, (note, since) in counted.items()
        if totals.get(incident_id, 0) > since
    }
