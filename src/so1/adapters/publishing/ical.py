"""iCalendar (RFC 5545) output with the `icalendar` library."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vCalAddress

from so1.domain.oncall import Person, Shift

PRODID = "-//SO1 Incident Response//on-call//EN"


class IcalWriter:
    def shifts(
        self, title: str, shifts: Sequence[Shift], people: Mapping[str, Person], stamp: datetime
    ) -> bytes:
        """One event per shift (uncovered gaps left out), stable UIDs so calendar clients
        update events in place when the file is fetched again."""
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", f"On call: {title}")
        for shift in shifts:
            if shift.handle is None:
                continue
            person = people.get(shift.handle)
            event = Event()
            event.add("uid", f"{title}-{shift.starts_at:%Y%m%dT%H%M%SZ}-{shift.handle}@so1")
            event.add("dtstamp", stamp)
            event.add("dtstart", shift.starts_at)
            event.add("dtend", shift.ends_at)
            name = person.name if person and person.name else shift.handle
            event.add("summary", f"On call: {name} ({title})")
            event.add("description", f"{shift.handle} covers {title} ({shift.via})")
            if person and person.email:
                attendee = vCalAddress(f"mailto:{person.email}")
                attendee.params["cn"] = name
                event.add("attendee", attendee)
            calendar.add_component(event)
        return bytes(calendar.to_ical())


def meeting(
    uid: str,
    title: str,
    starts_at: datetime,
    minutes: int,
    attendees: Sequence[Person],
    description: str,
    stamp: datetime,
) -> bytes:
    """One meeting (the postmortem review): everyone with an email is an attendee."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", starts_at)
    event.add("dtend", starts_at + timedelta(minutes=minutes))
    event.add("summary", title)
    event.add("description", description)
    for person in attendees:
        if person.email:
            attendee = vCalAddress(f"mailto:{person.email}")
            attendee.params["cn"] = person.name or person.handle
            attendee.params["role"] = "REQ-PARTICIPANT"
            event.add("attendee", attendee)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
