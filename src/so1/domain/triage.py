"""The triage report's cause vocabulary (DESIGN §3): extend it, never rename a cause."""

from __future__ import annotations

CAUSES = frozenset(
    {
        "connection_exhaustion",
        "slow_queries",
        "memory_leak",
        "deployment_issue",
        "infrastructure_problem",
        "database_failure",
        "dependency_failure",
        "resource_exhaustion",
        "configuration_error",
        "traffic_surge",
        "security_breach",
        "unknown",
    }
)
