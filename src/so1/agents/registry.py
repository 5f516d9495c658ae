"""Agent registry: the seed's agents by name.

The triage-responder has a typed contract (``agents.triage.contract``) and is kept apart from
the agents that still take and return JSON; the orchestrate endpoint answers 404 with the list
of every registered name for any other name.
"""

from __future__ import annotations

from so1.agents.commander.agent import IncidentCommander
from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.postmortem.agent import PostmortemAnalyst
from so1.agents.triage import TriageAgent, TriageResponder
from so1.ports import Agent


def default_agents() -> dict[str, Agent]:
    """The agents that take and return JSON: incident-commander, railway-deployer and
    postmortem-analyst."""
    agents: list[Agent] = [IncidentCommander(), RailwayDeployer(), PostmortemAnalyst()]
    return {agent.name: agent for agent in agents}


def default_triage_agent() -> TriageAgent:
    return TriageResponder()
