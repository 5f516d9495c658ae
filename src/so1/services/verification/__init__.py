"""Phases 3-4, verification: the runbook's gates, services' health checks, and the watch
that acts on them after a mitigation.

Modules:
- ``gates``: the runbook's metric gates;
- ``health``: services' own health checks probed;
- ``watch``: acting on the gates after a mitigation.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["gates", "health", "watch"]
