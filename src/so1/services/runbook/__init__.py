"""The runbook's checks and clocks across phases: what is done, pending or late.

Modules:
- ``checks``: every runbook check with its state;
- ``clocks``: late checks escalated, once per deadline.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["checks", "clocks"]
