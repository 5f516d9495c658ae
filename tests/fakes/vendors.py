"""Fakes of the outside systems: the war room (chat), the status page and the pager
(``ports.Messenger``), the platform (``ports.Platform``), health probes, URL guard, metrics
sources, the postmortem publisher (``services.postmortem.review.Folder``) and the calendar
export. Each records what it was asked, and can be told to fail as the real one does
(``RateLimited``/``Unavailable`` are retried, ``Rejected`` is given up)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from so1.domain.catalog import CatalogService
from so1.domain.comms import Outbound
from so1.domain.health import HealthReading
from so1.domain.incidents import Incident
from so1.domain.metrics import Series
from so1.domain.oncall import Person, Shift
from so1.domain.platform import SUCCESS, LogLine, PlatformDeployment
from so1.errors import NotFound, So1Error, Unavailable


class _Recording:
    """What a messenger delivered, and failures queued for its next deliveries."""

    def __init__(self) -> None:
        self.delivered: list[tuple[Outbound, Incident]] = []
        self._failures: list[So1Error] = []

    def fail_next(self, *errors: So1Error) -> None:
        self._failures.extend(errors)

    def _take(self, message: Outbound, incident: Incident) -> None:
        if self._failures:
            raise self._failures.pop(0)
        self.delivered.append((message, incident))

    def kinds(self) -> list[str]:
        return [m.kind for m, _ in self.delivered]


class FakeChat(_Recording):
    """The war room: answers with a channel id and a message ref as Slack's adapter does."""

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        self._take(message, incident)
        channel = incident.channel or str(message.payload.get("channel") or incident.id)
        ts = f"{len(self.delivered)}.000100"
        return {"channel_id": f"C-{channel}", "ts": ts, "ref": f"slack:C-{channel}:{ts}"}


class FakeStatusPage(_Recording):
    """One status-page incident per SO1 incident, its id kept like Statuspage's."""

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        self._take(message, incident)
        return {"statuspage_incident_id": f"sp-{incident.id}"}


class FakePager(_Recording):
    """Pages by dedup key: acknowledging or resolving a key never paged is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.open_pages: set[str] = set()

    def deliver(self, message: Outbound, incident: Incident) -> dict[str, Any]:
        self._take(message, incident)
        key = str(message.payload.get("dedup_key") or f"so1-{incident.id}")
        if message.payload.get("action", "trigger") == "trigger":
            self.open_pages.add(key)
        else:
            self.open_pages.discard(key)
        return {"dedup_key": key, "pagerduty_status": 202}


@dataclass
class FakePlatform:
    """Services with their deployments (newest first) and variables. Rollback, redeploy and
    set_variables(apply) start a new deployment that ends ``outcome`` (SUCCESS by default)."""

    name: str = "fake"
    deployments_of: dict[str, list[PlatformDeployment]] = field(default_factory=dict)
    variables_of: dict[str, dict[str, str]] = field(default_factory=dict)
    replicas_of: dict[str, int] = field(default_factory=dict)
    outcome: str = SUCCESS
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (action, service, id)
    started: datetime = datetime(2024, 1, 15, tzinfo=UTC)

    def add_service(self, service: str, *versions: str) -> None:
        """``versions`` oldest first; each a successful deployment that can be rolled back to."""
        for version in versions:
            self._new(service, version, SUCCESS)

    def _known(self, service: str) -> list[PlatformDeployment]:
        if service not in self.deployments_of:
            raise NotFound(f"service {service} is not on the platform")
        return self.deployments_of[service]

    def _new(self, service: str, version: str | None, status: str) -> PlatformDeployment:
        found = self.deployments_of.setdefault(service, [])
        number = sum(len(d) for d in self.deployments_of.values()) + 1
        at = self.started + timedelta(minutes=number)
        made = PlatformDeployment(f"dep-{number}", service, status, at, version, True, True)
        found.insert(0, made)
        return made

    def deployments(self, service: str, limit: int = 10) -> list[PlatformDeployment]:
        return list(self._known(service)[:limit])

    def deployment(self, service: str, deployment_id: str) -> PlatformDeployment:
        found = next((d for d in self._known(service) if d.id == deployment_id), None)
        if found is None:
            raise NotFound(f"deployment {deployment_id} of {service} does not exist")
        return found

    def rollback(self, service: str, deployment_id: str) -> str:
        target = self.deployment(service, deployment_id)
        self.actions.append(("rollback", service, deployment_id))
        return self._new(service, target.version, self.outcome).id

    def redeploy(self, service: str, deployment_id: str) -> str:
        current = self.deployment(service, deployment_id)
        self.actions.append(("redeploy", service, deployment_id))
        return self._new(service, current.version, self.outcome).id

    def restart(self, service: str, deployment_id: str) -> None:
        self.deployment(service, deployment_id)
        self.actions.append(("restart", service, deployment_id))

    def variables(self, service: str) -> dict[str, str]:
        self._known(service)
        return dict(self.variables_of.get(service, {}))

    def set_variables(self, service: str, variables: Mapping[str, str], apply: bool) -> str | None:
        current = self._known(service)[0]
        self.variables_of.setdefault(service, {}).update(variables)
        self.actions.append(("set_variables", service, ",".join(sorted(variables))))
        return self._new(service, current.version, self.outcome).id if apply else None

    def scale(self, service: str, replicas: int) -> None:
        self._known(service)
        self.replicas_of[service] = replicas
        self.actions.append(("scale", service, str(replicas)))

    def logs(self, service: str, deployment_id: str, limit: int = 100) -> list[LogLine]:
        found = self.deployment(service, deployment_id)
        return [LogLine(found.created_at, f"{found.id} {found.status}")][-limit:]

    def finish(self, service: str, deployment_id: str, status: str) -> None:
        """Move a deployment to ``status`` (what the platform reports on the next poll)."""
        found = self._known(service)
        self.deployments_of[service] = [
            replace(d, status=status) if d.id == deployment_id else d for d in found
        ]


class FakeHealthProbe:
    """Readings by URL; a URL not set answers like a refused connection."""

    def __init__(self, readings: Mapping[str, HealthReading] | None = None) -> None:
        self.readings = dict(readings or {})
        self.checked: list[str] = []

    def check(self, url: str) -> HealthReading:
        self.checked.append(url)
        return self.readings.get(url, HealthReading(False, f"cannot connect: {url}"))


class FakeUrlGuard:
    """Refuses the hosts it is given (SO1_OUTBOUND_ALLOW's decision, without DNS)."""

    def __init__(self, refused_hosts: Sequence[str] = ()) -> None:
        self.refused_hosts = set(refused_hosts)

    def refusal(self, url: str) -> str | None:
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return f"{host} is not allowed" if host in self.refused_hosts else None


class FakeMetricsSource:
    """Series by (service, metric) as the source would answer them; ``down`` is a source
    that cannot answer (Prometheus unreachable)."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        self.down = False

    def add(self, service: str, metric: str, start: datetime, values: Sequence[float]) -> None:
        """One point a minute from ``start``."""
        found = self.points.setdefault((service, metric), [])
        found += [(start + timedelta(minutes=n), v) for n, v in enumerate(values)]

    def series(
        self, service: CatalogService, metric: str, start: datetime, end: datetime, step: int
    ) -> Series:
        if self.down:
            raise Unavailable("the metrics source cannot answer")
        known = self.points.get((service.name, metric), [])
        return Series(service.name, metric, [(at, v) for at, v in known if start <= at <= end])


class FakeFolder:
    """The postmortem publisher: remembers the files it would have written."""

    def __init__(self, root: Path = Path("/published")) -> None:
        self.root = root
        self.files: dict[Path, tuple[str, str]] = {}  # path → (markdown, commit message)

    def publish(self, day: date, title: str, markdown: str, message: str) -> Path:
        path = self.root / "postmortems" / f"{day.isoformat()}-{title.lower().replace(' ', '-')}.md"
        self.files[path] = (markdown, message)
        return path


class FakeCalendarWriter:
    """An iCalendar-shaped text with one line a shift, enough to assert what was exported."""

    def shifts(
        self, title: str, shifts: Sequence[Shift], people: Mapping[str, Person], stamp: datetime
    ) -> bytes:
        lines = [f"X-WR-CALNAME:{title}"]
        lines += [f"SUMMARY:{s.handle} {s.starts_at.isoformat()}" for s in shifts]
        return "\n".join(lines).encode()
