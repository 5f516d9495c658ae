"""Phase 3 "Gather context" and "Identify root cause", pure: what changed between the live
and the previous deployment, the runbook's symptom → likely cause → investigation table
applied to the incident's metrics, and a documented hypothesis in the runbook's format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from so1.domain.changes import Deployment
from so1.domain.metrics import Series

RECENT_DEPLOY = timedelta(hours=4)  # seed "Complete outage": a deployment in the last 4 hours


@dataclass(frozen=True, slots=True)
class DeploymentDiff:
    service: str
    current: str
    previous: str | None
    deployed_at: datetime
    deployed_by: str | None
    commits: tuple[str | None, str | None]  # (previous commit, current commit)
    config_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key → (old, new)


def deployment_diff(current: Deployment, previous: Deployment | None) -> DeploymentDiff:
    old = previous.config if previous else {}
    keys = set(old) | set(current.config)
    changed = {
        k: (old.get(k), current.config.get(k))
        for k in sorted(keys)
        if old.get(k) != current.config.get(k)
    }
    return DeploymentDiff(
        service=current.service,
        current=current.version,
        previous=previous.version if previous else current.previous_version,
        deployed_at=current.deployed_at,
        deployed_by=current.deployed_by,
        commits=(previous.commit_sha if previous else None, current.commit_sha),
        config_changed=changed,
    )


@dataclass(frozen=True, slots=True)
class SymptomRow:
    symptom: str
    likely_cause: str
    investigation: str
    matched: bool
    evidence: str


def _last(series: Mapping[str, Series], metric: str) -> float | None:
    found = series.get(metric)
    return found.last() if found else None


def _first(series: Mapping[str, Series], metric: str) -> float | None:
    found = series.get(metric)
    return found.points[0][1] if found and found.points else None


def symptom_table(
    series: Mapping[str, Series], deployed_at: datetime | None, detected_at: datetime
) -> list[SymptomRow]:
    """The runbook's table, each row matched (or not) against the metrics, with why."""
    error, pool = _last(series, "error_rate"), _last(series, "db_pool_utilization")
    p99, p99_start = _last(series, "latency_p99_ms"), _first(series, "latency_p99_ms")
    memory, memory_start = _last(series, "memory_mb"), _first(series, "memory_mb")
    recent = deployed_at is not None and timedelta(0) <= detected_at - deployed_at <= RECENT_DEPLOY
    return [
        SymptomRow(
            "5xx spike + pool at 100%",
            "Connection exhaustion",
            "Check pool config vs load",
            error is not None and pool is not None and error >= 1 and pool >= 95,
            f"error rate {_show(error, '%')}, pool {_show(pool, '%')}",
        ),
        SymptomRow(
            "Latency spike",
            "Slow queries, N+1 pattern",
            "Review slow query logs",
            p99 is not None
            and (p99 >= 500 or (p99_start is not None and p99 >= 2 * p99_start > 0)),
            f"p99 {_show(p99, ' ms')} (window start {_show(p99_start, ' ms')})",
        ),
        SymptomRow(
            "Gradual degradation",
            "Memory leak",
            "Check memory trends over hours",
            memory is not None and memory_start is not None and memory >= 1.3 * memory_start > 0,
            f"memory {_show(memory_start, ' MB')} → {_show(memory, ' MB')}",
        ),
        SymptomRow(
            "Sudden outage",
            "Deployment issue",
            "Compare current vs previous version",
            recent and error is not None and error >= 1,
            "deployed "
            + (
                f"{_ago(detected_at - deployed_at)} before detection"
                if deployed_at
                else "not in the window"
            ),
        ),
        SymptomRow(
            "Regional issues",
            "Infrastructure problem",
            "Check Railway/AWS status",
            False,
            "not judged from metrics: look at alerts by region",
        ),
    ]


def _show(value: float | None, unit: str) -> str:
    return "no data" if value is None else f"{value:g}{unit}"


def _ago(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@dataclass(frozen=True, slots=True)
class InvestigationStep:
    text: str
    done: bool


@dataclass(frozen=True, slots=True)
class Hypothesis:
    statement: str
    confidence: float  # 0..1
    evidence: Sequence[str]
    steps: Sequence[InvestigationStep]

    def markdown(self) -> str:
        """The runbook's "Document hypothesis" post."""
        lines = [
            f"**Hypothesis**: {self.statement}",
            f"**Confidence**: {round(self.confidence * 100)}%",
            "**Evidence**:",
        ]
        lines += [f"- {item}" for item in self.evidence]
        lines.append("**Investigation steps**:")
        lines += [
            f"{n}. {step.text} {'✅' if step.done else '🔄'}"
            for n, step in enumerate(self.steps, 1)
        ]
        return "\n".join(lines)
