"""Loads knowledge/mitigations.yaml into the domain's Playbook (once per process)."""

from __future__ import annotations

from functools import cache
from typing import Any

from so1 import knowledge
from so1.domain.mitigation import ApprovalPolicy, Playbook, Risk, Strategy
from so1.domain.severity import Severity


@cache
def playbook() -> Playbook:
    return parse(knowledge.mitigations())


def parse(raw: dict[str, Any]) -> Playbook:
    strategies = {
        name: Strategy(name, s["label"], s["when"], Risk(s["risk"]), s["speed"], s["action"])
        for name, s in raw["strategies"].items()
    }
    approval = raw.get("approval") or {}
    by_risk = {
        Risk(risk): frozenset(Severity(s) for s in severities)
        for risk, severities in (approval.get("by_risk") or {}).items()
    }
    policy = ApprovalPolicy(frozenset(approval.get("always") or ()), by_risk)
    by_cause = {cause: list(names) for cause, names in (raw.get("by_cause") or {}).items()}
    unknown = {n for names in by_cause.values() for n in names} - set(strategies)
    if unknown:
        raise ValueError(f"mitigations.yaml names unknown strategies: {sorted(unknown)}")
    return Playbook(strategies, by_cause, policy)
