"""Publishing adapters: iCalendar files (on-call shifts; later postmortem invitations)."""
