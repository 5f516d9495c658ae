"""Agent registry: a plain dict from the seed's agent names to agent objects.

The runbook's other agents (railway-deployer, postmortem-analyst) join this dict as their
issues land; until then the orchestrate endpoint answers 404 with the list
of what is registered.
"""

from __future__ import annotations

from so1.agents.commander import IncidentCommander
from so1.agents.deployer import RailwayDeployer
from so1.agents.postmortem import PostmortemAnalyst
from so1.agents.triage import TriageResponder
from so1.ports import Agent


def default_agents() -> dict[str, Agent]:
    agents: list[Agent] = [
        TriageResponder(),
        IncidentCommander(),
        RailwayDeployer(),
        PostmortemAnalyst(),
    ]
    return {agent.name: agent for agent in agents}
