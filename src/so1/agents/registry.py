"""Agent registry: the seed's four agents, each with a typed contract, held by role so services
get them with their types; any other agent (JSON in, JSON out, registered at run time) by name.

The orchestrate endpoint answers 404 with the list of every registered name for any other name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from so1.agents.commander.agent import IncidentCommander
from so1.agents.commander.contract import CommanderInputs, CommanderPlan
from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.deployer.contract import DeployerInputs, DeployerPlan
from so1.agents.postmortem.agent import PostmortemAnalyst
from so1.agents.postmortem.contract import PostmortemDraft, PostmortemInputs
from so1.agents.triage import TriageAgent, TriageResponder
from so1.ports import Agent, TypedAgent

CommanderAgent = TypedAgent[CommanderInputs, CommanderPlan]
DeployerAgent = TypedAgent[DeployerInputs, DeployerPlan]
AnalystAgent = TypedAgent[PostmortemInputs, PostmortemDraft]


@dataclass(frozen=True)
class Agents:
    triage: TriageAgent | None = None
    commander: CommanderAgent | None = None
    deployer: DeployerAgent | None = None
    analyst: AnalystAgent | None = None
    by_name: Mapping[str, Agent] = field(default_factory=dict)  # JSON in, JSON out

    def names(self) -> list[str]:
        typed = (self.triage, self.commander, self.deployer, self.analyst)
        return sorted({*(a.name for a in typed if a is not None), *self.by_name})


def default_agents(status_page_approval: str = "auto") -> Agents:
    commander = IncidentCommander(status_page_approval)
    return Agents(TriageResponder(), commander, RailwayDeployer(), PostmortemAnalyst())
