"""The incident record: lifecycle, roles, the one recording function, analytics, causes,
similar past incidents.

Modules:
- ``acknowledgement``: acknowledging (the only writer of ``acknowledged_at``);
- ``analytics``: MTTA, MTTM, MTTR and breakdowns;
- ``causes``: an incident's cause from the record;
- ``lifecycle``: declare, read, list, update, timeline;
- ``participants``: roles: assume, hand over, renounce;
- ``recording``: the acting context and record(): audit row + timeline event;
- ``severity``: a severity change recorded, with its required reason;
- ``similar``: similar past incidents (TF-IDF).
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = [
    "acknowledgement",
    "analytics",
    "causes",
    "lifecycle",
    "participants",
    "recording",
    "severity",
    "similar",
]
