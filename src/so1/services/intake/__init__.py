"""Phase 1, intake: deliveries stored and applied to the alert store (group commit), sender
integrations, correlation rules and silences.

Modules:
- ``correlation``: correlation rules and silences;
- ``deliveries``: a delivery stored and applied to the alert store;
- ``integrations``: sender secrets and authentication;
- ``writer``: the group-commit writer thread.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["correlation", "deliveries", "integrations", "writer"]
