"""Port for mitigation: the Platform that runs services (Railway, or this machine's process
manager). Adapters raise so1.errors: NotFound for an unknown service or deployment,
Rejected when the platform refuses, RateLimited/Unavailable when it cannot answer now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from so1.domain.health import HealthReading
from so1.domain.platform import LogLine, PlatformDeployment


class Platform(Protocol):
    name: str

    def deployments(self, service: str, limit: int = 10) -> list[PlatformDeployment]:
        """Newest first."""
        ...

    def deployment(self, service: str, deployment_id: str) -> PlatformDeployment: ...

    def rollback(self, service: str, deployment_id: str) -> str:
        """Serve ``deployment_id`` again; returns the id of the deployment now rolling out."""
        ...

    def redeploy(self, service: str, deployment_id: str) -> str:
        """A new deployment of the same build; returns its id."""
        ...

    def restart(self, service: str, deployment_id: str) -> None: ...

    def variables(self, service: str) -> dict[str, str]:
        """The service's environment variables now."""
        ...

    def set_variables(self, service: str, variables: Mapping[str, str], apply: bool) -> str | None:
        """Upsert environment variables; with ``apply`` also roll them out (a redeploy or a
        restart) and return the new deployment's id."""
        ...

    def scale(self, service: str, replicas: int) -> None: ...

    def logs(self, service: str, deployment_id: str, limit: int = 100) -> list[LogLine]:
        """Oldest first, the last ``limit`` lines."""
        ...


class UrlGuard(Protocol):
    """Whether SO1 may call a URL a user gave it (outbound policy, SO1_OUTBOUND_ALLOW)."""

    def refusal(self, url: str) -> str | None:
        """Why the URL is refused now, or None."""
        ...


class HealthProbe(Protocol):
    """Asks a service's own health endpoint how it is (the runbook's "Verify service health")."""

    def check(self, url: str) -> HealthReading:
        """Never raises for the service's failure: a refused connection or a timeout is a
        failing reading that says so."""
        ...
