"""incident-commander (Phase 2): from an incident and its triage report, the war room, the
commander and responders, the runbook's first messages, pages and clocks.

``agent`` is the entry; ``contract`` types what it is given and what it returns, ``roles``
picks who leads, ``comms`` renders the messages of comms.yaml, and ``severity`` plans what
a severity change adds or stops.
"""

from so1.agents.commander.agent import IncidentCommander, default_channel
from so1.agents.commander.contract import (
    CommanderInputs,
    CommanderPlan,
    CommanderRequest,
    TriageFindings,
)

__all__ = [
    "CommanderInputs",
    "CommanderPlan",
    "CommanderRequest",
    "IncidentCommander",
    "TriageFindings",
    "default_channel",
]
