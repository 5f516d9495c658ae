"""Phase 3, mitigation: the railway-deployer's runs (request, approve, execute) and what
changes production (catalog, deployments, flags).

Modules:
- ``changes``: catalog, deployments, feature flags;
- ``execution``: an approved plan run through the Platform port;
- ``runs``: request, approve, decline a platform action.
"""

# The modules are the public names; they are imported by name, not here, so that a phase
# package never imports another one as a side effect.
__all__ = ["changes", "execution", "runs"]
