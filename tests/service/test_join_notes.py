"""The timeline's account of alerts joining an open incident: a "correlated" note a minute at
most, each counting the alerts that joined since the last, the last of a storm noted by the
clocks pass (services/triage/join_notes.py)."""

from __future__ import annotations

from datetime import timedelta

from so1.agents.triage import TriageResponder
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource
from so1.domain.incidents import Incident, TimelineEvent
from so1.domain.timeline import EventKind
from so1.services.triage.flow import process_pending
from so1.services.triage.join_notes import NOTE_EVERY, note_joined_since
from so1.services.triage.joining import JoinTriageMemo
from tests.fakes import FakeClock, FakeDatabase
from tests.service.conftest import open_incident


def storm_pass(db: FakeDatabase, clock: FakeClock, memo: JoinTriageMemo, first: int) -> None:
    """Ten alerts of one signal on the incident's service, then a triage pass."""
    with db.uow() as uow:
        for n in range(first, first + 10):
            found = AlertEvent(
                AlertSource.EVENTS, AlertAction.TRIGGER, f"k{n}", "db errors", "db", "errors"
            )
            uow.alerts.trigger(found, f"al_{n}", clock.now())
        uow.commit()
    assert process_pending(db.uow, clock, TriageResponder(), memo=memo) == 10


def notes(db: FakeDatabase, incident: Incident) -> list[TimelineEvent]:
    with db.uow(read_only=True) as uow:
        return uow.timeline.for_incident(incident.id, [EventKind.ALERT_CORRELATED])


def alert_count(db: FakeDatabase, incident: Incident) -> int:
    with db.uow(read_only=True) as uow:
        return uow.alerts.count_for_incidents([incident.id]).get(incident.id, 0)


def test_a_storm_within_a_minute_gets_one_note_and_the_clocks_pass_counts_the_rest(
    db: FakeDatabase, clock: FakeClock
) -> None:
    incident, memo = open_incident(db, clock, service="db"), JoinTriageMemo()
    for n in range(5):  # 50 alerts in five passes, 5 s apart
        storm_pass(db, clock, memo, 10 * n)
        clock.advance(timedelta(seconds=5))
    triaged, joined = notes(db, incident)
    assert "triage" in triaged.data  # the signal's first alert, triaged: its own note
    assert (joined.data["count"], joined.data["total"]) == (9, 10)
    assert joined.summary.startswith("correlated 9 alert(s): db errors (db)")

    assert note_joined_since(db.uow, clock) == 0  # not a minute since that note yet
    clock.advance(NOTE_EVERY)
    assert note_joined_since(db.uow, clock) == 1
    assert note_joined_since(db.uow, clock) == 0  # counted once
    rest = notes(db, incident)[-1]
    assert (rest.data["count"], rest.data["total"]) == (40, alert_count(db, incident)) == (40, 50)
    at = joined.occurred_at.strftime("%H:%M:%S")
    assert rest.summary == f"correlated 40 alert(s) since {at} UTC (50 in all)"


def test_alerts_joining_a_minute_on_are_noted_with_those_that_joined_between(
    db: FakeDatabase, clock: FakeClock
) -> None:
    """A memo that triaged the signal lately joins the next passes without triage; the first
    pass after a minute writes the note, counting the alerts of the passes it skipped."""
    incident, memo = open_incident(db, clock, service="db"), JoinTriageMemo(timedelta(hours=1))
    storm_pass(db, clock, memo, 0)
    clock.advance(timedelta(seconds=10))
    storm_pass(db, clock, memo, 10)  # within the minute: no note
    assert len(notes(db, incident)) == 2
    clock.advance(NOTE_EVERY)
    storm_pass(db, clock, memo, 20)
    last = notes(db, incident)[-1]
    assert (last.data["count"], last.data["total"]) == (20, 30)
    assert len(last.data["alert_ids"]) == 10  # the ones of this pass
    assert last.summary.startswith("correlated 20 alert(s) since ")
    assert "(30 in all); latest: db errors (db)" in last.summary
    assert note_joined_since(db.uow, clock) == 0  # nothing left to count


def test_each_incident_of_a_pass_is_noted_on_its_own_clock(
    db: FakeDatabase, clock: FakeClock
) -> None:
    noted_lately = open_incident(db, clock, service="db")
    memo = JoinTriageMemo(timedelta(hours=1))
    storm_pass(db, clock, memo, 0)
    other = open_incident(db, clock, service="api")
    with db.uow() as uow:
        for n, service in enumerate(["api", "api", "db"]):
            found = AlertEvent(
                AlertSource.EVENTS, AlertAction.TRIGGER, f"m{n}", "errors", service, "errors"
            )
            uow.alerts.trigger(found, f"am_{n}", clock.now())
        uow.commit()
    process_pending(db.uow, clock, TriageResponder(), memo=memo)
    assert len(notes(db, noted_lately)) == 2  # its last note is a second old
    assert [n.data["count"] for n in notes(db, other)] == [1, 1]  # triaged, then joined
