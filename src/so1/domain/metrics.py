"""Service metrics the runbook looks at (Phase 3 "key metrics", Phase 4 gates): names, units,
and the default PromQL that reads each one from a Prometheus that scrapes the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# name → unit; error_rate is a percentage of requests, latencies are milliseconds.
METRICS: dict[str, str] = {
    "error_rate": "percent",
    "latency_p50_ms": "ms",
    "latency_p95_ms": "ms",
    "latency_p99_ms": "ms",
    "db_pool_utilization": "percent",
    "cpu": "percent",
    "memory_mb": "MB",
    "request_rate": "per second",
}
KEY_METRICS = ("error_rate", "latency_p99_ms", "db_pool_utilization")

_HTTP = 'http_requests_total{service="$service"}'
_ERRORS = 'http_requests_total{service="$service",status=~"5.."}'
_BUCKETS = 'http_request_duration_seconds_bucket{service="$service"}'


def _quantile(q: str) -> str:
    return f"1000 * histogram_quantile({q}, sum by (le) (rate({_BUCKETS}[$window])))"


# Conventional Prometheus client metric names; a catalog entry's ``metric_queries`` replaces
# any of them. ``$service`` and ``$window`` are filled in.
DEFAULT_PROMQL: dict[str, str] = {
    "error_rate": f"100 * sum(rate({_ERRORS}[$window])) / sum(rate({_HTTP}[$window]))",
    "latency_p50_ms": _quantile("0.5"),
    "latency_p95_ms": _quantile("0.95"),
    "latency_p99_ms": _quantile("0.99"),
    "db_pool_utilization": '100 * max(db_pool_in_use{service="$service"})'
    ' / max(db_pool_size{service="$service"})',
    "cpu": '100 * sum(rate(process_cpu_seconds_total{service="$service"}[$window]))',
    "memory_mb": 'sum(process_resident_memory_bytes{service="$service"}) / 1048576',
    "request_rate": f"sum(rate({_HTTP}[$window]))",
}


@dataclass(frozen=True, slots=True)
class Sample:
    service: str
    metric: str
    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    service: str
    metric: str
    points: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return METRICS.get(self.metric, "")

    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None


def promql(metric: str, service: str, overrides: dict[str, str], window: str = "1m") -> str:
    """The query for ``metric`` of ``service``: the catalog's override, else the default."""
    template = overrides.get(metric) or DEFAULT_PROMQL.get(metric)
    if template is None:
        raise KeyError(metric)
    return template.replace("$service", service).replace("$window", window)
