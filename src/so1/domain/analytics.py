"""Incident analytics, pure: mean times to acknowledge, mitigate and resolve, counts by
severity, service and cause, per month, and the runbook checks most often missed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import mean, median


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    id: str
    severity: str
    service: str | None
    cause: str
    detected_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    missed_checks: tuple[str, ...] = field(default_factory=tuple)


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 60


def _stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    known = [v for v in values if v is not None]
    return {
        "mean_minutes": round(mean(known), 2) if known else None,
        "median_minutes": round(median(known), 2) if known else None,
        "count": len(known),
    }


def _mtta(facts: Sequence[IncidentFacts]) -> dict[str, float | int | None]:
    """Over the acknowledged incidents only; ``unacknowledged`` counts the others (nobody
    acknowledged them, so they have no time to acknowledge)."""
    stats = _stats([_minutes(f.detected_at, f.acknowledged_at) for f in facts])
    return stats | {"unacknowledged": sum(1 for f in facts if f.acknowledged_at is None)}


def summarize(facts: Sequence[IncidentFacts]) -> dict[str, object]:
    months: dict[str, list[IncidentFacts]] = {}
    for f in facts:
        months.setdefault(f"{f.detected_at:%Y-%m}", []).append(f)
    return {
        "incidents": len(facts),
        "mtta": _mtta(facts),
        "mttm": _stats([_minutes(f.detected_at, f.mitigated_at) for f in facts]),
        "mttr": _stats([_minutes(f.detected_at, f.resolved_at) for f in facts]),
        "by_severity": dict(sorted(Counter(f.severity for f in facts).items())),
        "by_service": dict(sorted(Counter(f.service or "(none)" for f in facts).items())),
        "by_cause": dict(Counter(f.cause for f in facts).most_common()),
        "checks_missed": dict(Counter(c for f in facts for c in f.missed_checks).most_common()),
        "by_month": [
            {
                "month": month,
                "incidents": len(group),
                "mtta": _mtta(group),
                "mttr": _stats([_minutes(f.detected_at, f.resolved_at) for f in group]),
            }
            for month, group in sorted(months.items())
        ],
    }
