"""railway-deployer (Phase 3): plans a platform action (rollback, redeploy, restart,
variables, scale, feature flags) with its checks before and after, its risk and its undo.

``agent`` is the entry; ``knowledge`` loads the strategy table of mitigations.yaml.
"""

from so1.agents.deployer.agent import RailwayDeployer

__all__ = ["RailwayDeployer"]
