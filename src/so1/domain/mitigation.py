"""Mitigation strategies (the runbook's table: risk and speed), which to try for a likely
cause, and the approval policy. Pure: the knowledge is passed in."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from so1.domain.severity import Severity


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    label: str
    when: str
    risk: Risk
    speed: str
    action: str  # a PlatformAction value, or flag_disable / failover


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    always: frozenset[str] = frozenset({"failover"})
    by_risk: Mapping[Risk, frozenset[Severity]] = field(default_factory=dict)

    def needs_approval(self, strategy: Strategy, severity: Severity | None) -> str | None:
        """Why a human must approve first, or None."""
        if strategy.name in self.always:
            return f"{strategy.label} always needs an approval"
        severities = self.by_risk.get(strategy.risk, frozenset())
        if severity is None:  # outside an incident: only what every incident would need
            if severities >= frozenset(Severity):
                return f"{strategy.risk} risk needs an approval"
            return None
        if severity is not None and severity in severities:
            return f"{strategy.risk} risk during a {severity.value} needs an approval"
        return None


@dataclass(frozen=True, slots=True)
class Playbook:
    strategies: Mapping[str, Strategy]
    by_cause: Mapping[str, Sequence[str]]
    approval: ApprovalPolicy

    def for_cause(self, cause: str) -> list[Strategy]:
        names = self.by_cause.get(cause) or self.by_cause.get("unknown") or ()
        return [self.strategies[n] for n in names if n in self.strategies]

    def for_action(self, action: str) -> Strategy | None:
        return next((s for s in self.strategies.values() if s.action == action), None)
