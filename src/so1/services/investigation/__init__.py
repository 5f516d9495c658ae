"""Phase 3, investigation: context gathering, metrics, log patterns, documented hypotheses
and the runbook's scenario playbooks.

Modules:
- ``database_playbook``: the database-failure scenario;
- ``gather``: Phase 3 "Gather context" in one call;
- ``hypotheses``: documented hypotheses;
- ``log_patterns``: error log patterns (drain3);
- ``metrics``: pushed samples and series for an incident;
- ``playbooks``: scenario checklists;
- ``security_playbook``: the security-breach scenario;
- ``summary``: the context as a war-room post.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = [
    "database_playbook",
    "gather",
    "hypotheses",
    "log_patterns",
    "metrics",
    "playbooks",
    "security_playbook",
    "summary",
]
