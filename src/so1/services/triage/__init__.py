"""Phase 1, triage: what the triage-responder is shown, its report applied (correlate, open,
ticket or close), and the seed's orchestrate request.

Modules:
- ``context``: what the triage-responder is shown;
- ``flow``: correlate, triage and apply the report;
- ``requests``: the seed's orchestrate request taken in as an alert.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["context", "flow", "requests"]
