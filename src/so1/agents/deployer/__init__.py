"""railway-deployer (Phase 3): plans a platform action (rollback, redeploy, restart,
variables, scale, feature flags) with its checks before and after, its risk and its undo.

``agent`` is the entry; ``contract`` types the request, the inputs and the plan;
``knowledge`` loads the strategy table of mitigations.yaml.
"""

from so1.agents.deployer.agent import RailwayDeployer
from so1.agents.deployer.contract import DeployerInputs, DeployerPlan, DeployerRequest

__all__ = ["DeployerInputs", "DeployerPlan", "DeployerRequest", "RailwayDeployer"]
