"""Agent registry: a plain dict from the seed's agent names to agent objects.

The orchestrate endpoint answers 404 with the list of registered names for any other name.
"""

from __future__ import annotations

from so1.agents.commander.agent import IncidentCommander
from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.postmortem.agent import PostmortemAnalyst
from so1.agents.triage.agent import TriageResponder
from so1.ports import Agent


def default_agents() -> dict[str, Agent]:
    agents: list[Agent] = [
        TriageResponder(),
        IncidentCommander(),
        RailwayDeployer(),
        PostmortemAnalyst(),
    ]
    return {agent.name: agent for agent in agents}
