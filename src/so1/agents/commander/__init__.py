"""incident-commander (Phase 2): from an incident and its triage report, the war room, the
commander and responders, the runbook's first messages, pages and clocks.

``agent`` is the entry; ``inputs`` types what it is given, ``roles`` picks who leads, and
``comms`` renders the messages of comms.yaml.
"""

from so1.agents.commander.agent import IncidentCommander, default_channel

__all__ = ["IncidentCommander", "default_channel"]
