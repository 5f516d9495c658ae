"""Hypotheses: score every cause in the knowledge base against the facts, rank, explain.

A cause's score is its prior plus the weights of its signals that hold (scaled by recency for
changes); its confidence is 1 - exp(-score / 2), capped at 0.95. Ties keep the YAML order.
"""

from __future__ import annotations

import math
import string

from so1.agents.triage.contract import Hypothesis
from so1.agents.triage.facts import Facts, age_text
from so1.agents.triage.impact import describe_value
from so1.agents.triage.knowledge import CauseSpec, Knowledge
from so1.agents.triage.signals import evaluate, region_of
from so1.agents.triage.values import format_number

MAX_HYPOTHESES = 4
MAX_EVIDENCE = 5
CONFIDENCE_CAP = 0.95


def rank(facts: Facts, kn: Knowledge) -> list[Hypothesis]:
    """The likeliest causes first; ``unknown`` stays in the list at its prior."""
    fields = step_fields(facts, kn)
    scored = [_score(spec, facts, kn, fields) for spec in kn.causes]
    floor = max((spec.prior for spec in kn.causes), default=0.0)
    kept = [h for h in scored if h.score > 0 and h.score >= floor]  # weaker than "unknown": out
    # sorted() is stable: equal scores keep the knowledge base's order
    return sorted(kept, key=lambda h: -h.score)[:MAX_HYPOTHESES]


def hypothesis_confidence(score: float) -> float:
    return round(min(CONFIDENCE_CAP, 1 - math.exp(-score / 2)), 2)


def _score(spec: CauseSpec, facts: Facts, kn: Knowledge, fields: dict[str, str]) -> Hypothesis:
    score = spec.prior
    evidence: list[str] = []
    for signal in spec.signals:
        hit = evaluate(signal, facts, kn)
        if hit is None:
            continue
        score += signal.weight * hit.strength
        if hit.evidence and hit.evidence not in evidence:
            evidence.append(hit.evidence)
    if not evidence:
        evidence.append(_plain_evidence(facts))
    return Hypothesis(
        cause=spec.cause,
        score=round(score, 4),
        confidence=hypothesis_confidence(score),
        evidence=tuple(evidence[:MAX_EVIDENCE]),
        investigation_steps=render_steps(spec, fields),
    )


def _plain_evidence(facts: Facts) -> str:
    """What there is to go on when no symptom pattern matched."""
    alert = facts.alert
    if alert.metric and alert.current_value is not None:
        return f"no known symptom pattern matched; {describe_value(alert, facts.service)}"
    if alert.summary:
        return f'no known symptom pattern matched; {facts.service} says "{alert.summary}"'
    return f"no known symptom pattern matched; the alert names only the service {facts.service}"


def render_steps(spec: CauseSpec, fields: dict[str, str]) -> tuple[str, ...]:
    """Each step's first alternative whose fields are all known."""
    steps: list[str] = []
    for alternatives in spec.steps:
        for template in alternatives:
            names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
            if all(n in fields for n in names):
                steps.append(template.format_map(fields))
                break
    if not steps:
        steps.append(f"Search logs: {fields['log_query']}")
    return tuple(steps)


def step_fields(facts: Facts, kn: Knowledge) -> dict[str, str]:
    """The values step templates may use; a missing key means the step is skipped."""
    alert, entry = facts.alert, facts.entry
    fields: dict[str, str | None] = {
        "service": facts.service,
        "metric": alert.metric,
        "value": _shown(alert.current_value),
        "threshold": alert.threshold,
        "log_query": f"service:{facts.service} status:error last 30m",
        "owner_team": entry.owner_team if entry else None,
        "region": region_of(alert),
        "dependencies": ", ".join(facts.dependencies[:6]) or None,
        "database": _database(facts, kn),
    }
    if entry is not None and alert.metric in entry.baselines:
        fields["baseline"] = _shown(entry.baselines[alert.metric])
    fields.update(_change_fields(facts))
    fields.update(_dependency_fields(facts, kn))
    return {k: v for k, v in fields.items() if v}


def _change_fields(facts: Facts) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    if facts.deployments:
        dep, age = facts.deployments[0]
        out.update(
            version=dep.version,
            previous_version=dep.previous_version,
            commit_sha=dep.commit_sha,
            deployed_by=dep.deployed_by,
            deployed_at=f"{dep.deployed_at:%Y-%m-%d %H:%M}Z",
            deployed_ago=age_text(age),
            config_keys=", ".join(sorted(dep.config)) or None,
        )
    if facts.flags:
        flag, age = facts.flags[0]
        out.update(
            flag=flag.key,
            flag_state="turned on" if flag.enabled_after else "turned off",
            flag_actor=flag.actor,
            flag_ago=age_text(age),
        )
    return out


def _dependency_fields(facts: Facts, kn: Knowledge) -> dict[str, str | None]:
    alerting = [a for a in facts.scoped if a.service in facts.dependencies]
    plain = [a for a in alerting if not kn.database_service.search(a.service or "")]
    if not alerting:
        return {}
    chosen = (plain or alerting)[0]
    return {"dependency": chosen.service, "dependency_alert": chosen.id}


def _database(facts: Facts, kn: Knowledge) -> str | None:
    if kn.database_service.search(facts.service):
        return facts.service
    return next((d for d in facts.dependencies if kn.database_service.search(d)), None)


def _shown(value: object) -> str | None:
    if value is None:
        return None
    return format_number(float(value)) if isinstance(value, int | float) else str(value)
