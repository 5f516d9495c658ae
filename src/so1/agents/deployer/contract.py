"""The railway-deployer's contract: the request (what a caller asks for, kept as the run's
inputs), the inputs the service gathers around it (the platform's state), and the plan.

``to_json`` gives the JSON kept in the run (DESIGN §3: the plan's shape is a contract);
``DeployerRequest.from_json`` reads a run's kept inputs back when an approved run is carried
out, and ``KeptPlan`` what later steps need of a kept plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from so1.domain.mitigation import Risk
from so1.domain.platform import PlatformAction, PlatformDeployment
from so1.domain.severity import Severity


@dataclass(frozen=True, slots=True)
class DeployerRequest:
    """The seed's call: an action on a service, with what that action needs."""

    action: PlatformAction
    service: str
    incident_id: str | None = None
    target_version: str | None = None  # rollback: a deployment id or version, or "previous"
    variables: Mapping[str, str] | None = None  # set_variables
    apply: bool | None = None  # set_variables: redeploy so they take effect (default yes)
    replicas: int | None = None  # scale
    flag: str | None = None  # flag_disable / flag_enable

    def to_json(self) -> dict[str, object]:
        given: dict[str, object] = {"action": self.action.value, "service": self.service}
        optional = {
            "incident_id": self.incident_id,
            "target_version": self.target_version,
            "variables": dict(self.variables) if self.variables is not None else None,
            "apply": self.apply,
            "replicas": self.replicas,
            "flag": self.flag,
        }
        return given | {k: v for k, v in optional.items() if v is not None}

    @classmethod
    def from_json(cls, kept: Mapping[str, Any]) -> DeployerRequest:
        """A run's inputs as SO1 kept them (``to_json``), checked when the request came in."""
        variables = kept.get("variables")
        return cls(
            PlatformAction(kept["action"]),
            str(kept["service"]),
            kept.get("incident_id"),
            kept.get("target_version"),
            {str(k): str(v) for k, v in variables.items()} if variables is not None else None,
            kept.get("apply"),
            kept.get("replicas"),
            kept.get("flag"),
        )


@dataclass(frozen=True, slots=True)
class FlagState:
    enabled: bool
    service: str | None = None  # the service the flag belongs to, when it names one


@dataclass(frozen=True, slots=True)
class DeployerInputs:
    """The request and the platform's state now (deployments newest first)."""

    request: DeployerRequest
    severity: Severity | None = None  # of the incident acted for
    deployments: tuple[PlatformDeployment, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)  # set_variables: current values
    flag: FlagState | None = None  # flag actions: the flag's state (None: no such flag)


@dataclass(frozen=True, slots=True)
class Check:
    check: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class DeploymentBrief:
    id: str
    version: str | None
    status: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "version": self.version, "status": self.status}

    @classmethod
    def of(cls, deployment: PlatformDeployment) -> DeploymentBrief:
        return cls(deployment.id, deployment.version, deployment.status)


@dataclass(frozen=True, slots=True)
class FlagTarget:
    id: str  # the flag's key
    enabled: bool | None  # its state when planned (None: no such flag)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "enabled": self.enabled}


@dataclass(frozen=True, slots=True)
class Undo:
    """The request that undoes the action (one of target_version, variables, flag)."""

    action: PlatformAction
    target_version: str | None = None
    variables: Mapping[str, str] | None = None
    flag: str | None = None

    def to_json(self) -> dict[str, object]:
        given = {
            "target_version": self.target_version,
            "variables": dict(self.variables) if self.variables is not None else None,
            "flag": self.flag,
        }
        return {"action": self.action.value} | {k: v for k, v in given.items() if v is not None}


def _undo_json(undo: Undo | None) -> dict[str, object] | None:
    return undo.to_json() if undo else None


@dataclass(frozen=True, slots=True)
class DeploymentSteps:
    """rollback, restart, redeploy: the deployment acted on (or returned to)."""

    target: DeploymentBrief | None
    steps: tuple[str, ...]
    undo: Undo | None

    def to_json(self) -> dict[str, object]:
        target = self.target.to_json() if self.target else None
        return {"target": target, "steps": list(self.steps), "undo": _undo_json(self.undo)}


@dataclass(frozen=True, slots=True)
class VariableSteps:
    variables: Mapping[str, str]
    previous_variables: Mapping[str, str | None]
    apply: bool
    steps: tuple[str, ...]
    undo: Undo | None

    def to_json(self) -> dict[str, object]:
        return {
            "variables": dict(self.variables),
            "previous_variables": dict(self.previous_variables),
            "apply": self.apply,
            "steps": list(self.steps),
            "undo": _undo_json(self.undo),
        }


@dataclass(frozen=True, slots=True)
class ScaleSteps:
    replicas: int | None
    steps: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        # the platform does not tell the replica count it had: no undo
        return {"replicas": self.replicas, "steps": list(self.steps), "undo": None}


@dataclass(frozen=True, slots=True)
class FlagSteps:
    flag: str
    enabled: bool  # the state wanted
    target: FlagTarget
    steps: tuple[str, ...] | None  # None: the flag does not exist, nothing to do
    undo: Undo | None = None

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "flag": self.flag,
            "enabled": self.enabled,
            "target": self.target.to_json(),
        }
        if self.steps is None:
            return found
        return found | {"steps": list(self.steps), "undo": _undo_json(self.undo)}


Steps = DeploymentSteps | VariableSteps | ScaleSteps | FlagSteps


@dataclass(frozen=True, slots=True)
class DeployerPlan:
    """How to carry out the action: checks before (the first failing one refuses it), the
    steps, the checks after, the undo, and whether a human must approve first."""

    action: PlatformAction
    service: str
    current: DeploymentBrief | None  # the newest deployment
    pre_checks: tuple[Check, ...]
    refused: str | None
    strategy: str
    risk: Risk
    speed: str | None
    needs_approval: bool
    approval_reason: str | None
    planned: Steps | None  # None: refused before a target was found
    post_checks: tuple[str, ...]

    @property
    def target_id(self) -> str | None:
        """The deployment (or flag) acted on; a re-plan must find the same one."""
        if isinstance(self.planned, DeploymentSteps) and self.planned.target is not None:
            return self.planned.target.id
        if isinstance(self.planned, FlagSteps):
            return self.planned.target.id
        return None

    @property
    def steps(self) -> tuple[str, ...]:
        return (self.planned.steps or ()) if self.planned is not None else ()

    def to_json(self) -> dict[str, object]:
        plan: dict[str, object] = {
            "action": self.action.value,
            "service": self.service,
            "current": self.current.to_json() if self.current else None,
            "pre_checks": [c.to_json() for c in self.pre_checks],
            "refused": self.refused,
            "strategy": self.strategy,
            "risk": self.risk.value,
            "speed": self.speed,
            "needs_approval": self.needs_approval,
            "approval_reason": self.approval_reason,
        }
        planned = self.planned.to_json() if self.planned else {}
        return plan | planned | {"post_checks": list(self.post_checks)}


@dataclass(frozen=True, slots=True)
class KeptPlan:
    """What later steps read back of a plan kept in a run (``DeployerPlan.to_json``): the
    approved target, the steps, the undo."""

    target_id: str | None = None
    steps: tuple[str, ...] = ()
    undo: Undo | None = None

    @classmethod
    def from_json(cls, plan: Mapping[str, Any]) -> KeptPlan:
        target, undo = plan.get("target") or {}, plan.get("undo")
        found = target.get("id")
        return cls(
            str(found) if found is not None else None,
            tuple(str(step) for step in plan.get("steps") or ()),
            _undo_from_json(undo) if undo else None,
        )

    @classmethod
    def of_run(cls, output: Mapping[str, Any] | None) -> KeptPlan:
        return cls.from_json((output or {}).get("plan") or {})


def _undo_from_json(undo: Mapping[str, Any]) -> Undo:
    variables = undo.get("variables")
    return Undo(
        PlatformAction(undo["action"]),
        undo.get("target_version"),
        {str(k): str(v) for k, v in variables.items()} if variables is not None else None,
        undo.get("flag"),
    )
