"""Phase 2, declaration: the incident-commander's plan applied, on-call, escalation, the
outbox that delivers messages and pages, the public status page.

Modules:
- ``escalation``: escalation policies walked until acknowledged;
- ``flow``: the incident-commander run and its plan applied;
- ``oncall``: people, teams, schedules, who is on call;
- ``outbox``: delivery of queued messages and pages;
- ``severity``: a severity change's runbook actions carried out;
- ``status_page``: the public status page's read side.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["escalation", "flow", "oncall", "outbox", "severity", "status_page"]
