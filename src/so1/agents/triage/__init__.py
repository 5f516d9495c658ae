"""triage-responder (Phase 1): an alert and its context in; severity with confidence, impact,
ranked hypotheses and the escalation decision out.

``agent`` is the entry; ``contract`` types what it is given and what it reports, ``facts``
what it derives, ``values`` parses metric values and thresholds, ``signals`` and
``hypotheses`` score the causes of ``knowledge`` (symptoms.yaml), and ``severity`` applies
the runbook's table.
"""

from so1.agents.triage.agent import CONFIDENCE_FLOOR, TriageResponder
from so1.agents.triage.contract import (
    TRIAGE_AGENT,
    ServiceFlagChange,
    TriageAgent,
    TriageInput,
    TriageReport,
)

__all__ = [
    "CONFIDENCE_FLOOR",
    "TRIAGE_AGENT",
    "ServiceFlagChange",
    "TriageAgent",
    "TriageInput",
    "TriageReport",
    "TriageResponder",
]
