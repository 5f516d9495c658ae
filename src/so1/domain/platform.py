"""What SO1 knows about the platform that runs a service: its deployments, their states and
logs, and the actions the railway-deployer agent can take on it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class PlatformAction(enum.StrEnum):
    ROLLBACK = "rollback"  # serve a previous successful deployment again
    REDEPLOY = "redeploy"  # a new deployment of the same build
    RESTART = "restart"  # restart the running deployment's processes
    SET_VARIABLES = "set_variables"  # change environment variables (applied by a redeploy)
    SCALE = "scale"  # change the number of replicas
    # The runbook's "feature flag disable": a flag SO1 serves over OFREP, not the platform's.
    FLAG_DISABLE = "flag_disable"  # turn a feature flag off
    FLAG_ENABLE = "flag_enable"  # turn it back on (the undo of flag_disable)


FLAG_ACTIONS = frozenset({PlatformAction.FLAG_DISABLE, PlatformAction.FLAG_ENABLE})


# Railway's deployment status values; other platforms map onto them.
SUCCESS = "SUCCESS"
IN_PROGRESS = frozenset({"BUILDING", "DEPLOYING", "INITIALIZING", "QUEUED", "WAITING"})
FAILED = frozenset({"CRASHED", "FAILED", "SKIPPED"})
# A deployment that ran and was replaced by a newer one (Railway marks it REMOVED).
SUPERSEDED = frozenset({"REMOVED", "REMOVING"})
RAN_WELL = SUPERSEDED | {SUCCESS}


@dataclass(frozen=True, slots=True)
class PlatformDeployment:
    id: str
    service: str
    status: str
    created_at: datetime
    version: str | None = None  # image tag, commit or release name, when the platform says
    can_rollback: bool = False
    can_redeploy: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status == SUCCESS or self.status in FAILED | SUPERSEDED


@dataclass(frozen=True, slots=True)
class LogLine:
    at: datetime
    message: str
    severity: str | None = None


def rollback_target(
    deployments: list[PlatformDeployment], target: str = "previous"
) -> PlatformDeployment | None:
    """The deployment to roll back to. ``previous``: the newest deployment older than the
    newest one that ran well (live, or replaced by a later one; never a failed or crashed one)
    and that the platform can roll back to; otherwise the deployment with id or version
    ``target``, only if it can be rolled back to. ``deployments`` are newest first."""
    if target == "previous":
        older = deployments[1:]
        return next((d for d in older if d.status in RAN_WELL and d.can_rollback), None)
    named = next((d for d in deployments if target in (d.id, d.version)), None)
    if named is None or named is deployments[0] or not named.can_rollback:
        return None  # unknown, the one already live, or one the platform cannot return to
    return named
