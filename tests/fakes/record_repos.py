"""Fakes of the other record repositories: catalog, deployments and flags (ports/changes.py),
postmortems and action items (ports/postmortem.py), pushed metric samples
(ports/metrics.py) and web sign-in (ports/web.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime

from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FeatureFlag, FlagChange
from so1.domain.incidents import IncidentStatus
from so1.domain.metrics import Sample, Series
from so1.domain.postmortem import ActionItem, Postmortem
from so1.domain.records import AgentName, RunStatus
from tests.fakes.tables import Tables, kept


class FakeCatalogRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def get(self, name: str) -> CatalogService | None:
        return kept(self._t.catalog.get(name))

    def upsert(self, service: CatalogService) -> bool:
        new = service.name not in self._t.catalog
        self._t.catalog[service.name] = kept(service)
        return new

    def all(self) -> list[CatalogService]:
        return kept(sorted(self._t.catalog.values(), key=lambda s: s.name))


class FakeDeploymentRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, deployment: Deployment) -> Deployment:
        stored = replace(deployment, id=self._t.next_serial("deployments"), previous_version=None)
        self._t.deployments.append(kept(stored))
        return replace(stored, previous_version=self._previous(stored))

    def recent(self, since: datetime, service: str | None) -> list[Deployment]:
        found = [
            d
            for d in self._t.deployments
            if d.deployed_at >= since and (not service or d.service == service)
        ]
        found.sort(key=lambda d: (d.deployed_at, d.id or 0), reverse=True)
        return kept([replace(d, previous_version=self._previous(d)) for d in found])

    def _previous(self, deployment: Deployment) -> str | None:
        """The version of the service's last successful deployment before this one."""
        mark = (deployment.deployed_at, deployment.id or 0)
        earlier = [
            d
            for d in self._t.deployments
            if d.service == deployment.service
            and d.status == "succeeded"
            and (d.deployed_at, d.id or 0) < mark
        ]
        return max(earlier, key=lambda d: (d.deployed_at, d.id or 0)).version if earlier else None


class FakeFlagRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def get(self, key: str) -> FeatureFlag | None:
        return self._t.flags.get(key)

    def upsert(self, flag: FeatureFlag) -> None:
        self._t.flags[flag.key] = flag

    def all(self) -> list[FeatureFlag]:
        return sorted(self._t.flags.values(), key=lambda f: f.key)

    def add_change(self, change: FlagChange) -> None:
        self._t.flag_changes.append(change)

    def changes(self, key: str) -> list[FlagChange]:
        return sorted((c for c in self._t.flag_changes if c.key == key), key=lambda c: c.changed_at)

    def changes_since(self, since: datetime) -> list[tuple[FlagChange, str | None]]:
        found = [
            c for c in self._t.flag_changes if c.changed_at >= since and c.key in self._t.flags
        ]
        found.sort(key=lambda c: c.changed_at)
        return [(c, self._t.flags[c.key].service) for c in found]


class FakePostmortemRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def get(self, incident_id: str) -> Postmortem | None:
        return kept(self._t.postmortems.get(incident_id))

    def put(self, postmortem: Postmortem) -> None:
        self._t.postmortems[postmortem.incident_id] = kept(postmortem)

    def root_causes(self, incident_ids: list[str]) -> dict[str, str]:
        found = {}
        for incident_id in incident_ids:
            kept_one = self._t.postmortems.get(incident_id)
            cause = ((kept_one.draft if kept_one else None) or {}).get("root_cause") or {}
            if cause.get("cause"):
                found[incident_id] = str(cause["cause"])
        return found

    def without_postmortem(self, limit: int, failed_since: datetime | None = None) -> list[str]:
        ended = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
        pending = [
            i
            for i in self._t.incidents.values()
            if i.status in ended
            and i.id not in self._t.postmortems
            and not (failed_since is not None and self._failed_since(i.id, failed_since))
        ]
        pending.sort(key=lambda i: i.resolved_at or i.updated_at)
        return [i.id for i in pending[:limit]]

    def _failed_since(self, incident_id: str, since: datetime) -> bool:
        return any(
            r.incident_id == incident_id
            and r.agent == AgentName.POSTMORTEM
            and r.status is RunStatus.FAILED
            and r.started_at >= since
            for r in self._t.agent_runs.values()
        )


class FakeActionItemRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_ticket(self, alert_id: str, title: str, priority: str, at: datetime) -> int:
        item_id = self._t.next_serial("action_items")
        self._t.action_items.append(
            ActionItem(item_id, title, "open", priority, at, alert_id=alert_id)
        )
        return item_id

    def add(
        self,
        incident_id: str,
        title: str,
        owner: str | None,
        due: date | None,
        priority: str,
        at: datetime,
    ) -> int:
        item_id = self._t.next_serial("action_items")
        item = ActionItem(item_id, title, "open", priority, at, incident_id, None, owner, due)
        self._t.action_items.append(item)
        return item_id

    def get(self, item_id: int) -> ActionItem | None:
        return next((i for i in self._t.action_items if i.id == item_id), None)

    def search(
        self,
        owner: str | None = None,
        status: str | None = None,
        incident_id: str | None = None,
        due_before: date | None = None,
        limit: int = 500,
    ) -> list[ActionItem]:
        found = [
            i
            for i in self._t.action_items
            if (not owner or i.owner == owner)
            and (not status or i.status == status)
            and (not incident_id or i.incident_id == incident_id)
            and (not due_before or (i.due_date is not None and i.due_date < due_before))
        ]
        found.sort(key=lambda i: (i.due_date is None, i.due_date or date.min, i.id))
        return found[:limit]

    def update(self, item: ActionItem) -> None:
        for n, stored in enumerate(self._t.action_items):
            if stored.id == item.id:
                self._t.action_items[n] = replace(
                    stored,
                    title=item.title,
                    owner=item.owner,
                    due_date=item.due_date,
                    priority=item.priority,
                    status=item.status,
                )


class FakeMetricSampleRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add(self, samples: Sequence[Sample]) -> None:
        self._t.samples.extend(samples)

    def range(self, service: str, metric: str, start: datetime, end: datetime) -> Series:
        points = sorted(
            (s.at, s.value)
            for s in self._t.samples
            if (s.service, s.metric) == (service, metric) and start <= s.at <= end
        )
        return Series(service, metric, points)

    def purge_before(self, cutoff: datetime) -> int:
        before = len(self._t.samples)
        self._t.samples = [s for s in self._t.samples if s.at >= cutoff]
        return before - len(self._t.samples)


class FakeWebRepository:
    """Server secrets in clear (the real one seals them); links are single use."""

    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def secret(self, name: str, at: datetime) -> str:
        return self._t.secrets.setdefault(name, secrets.token_urlsafe(32))

    def reseal_secrets(self) -> int:
        return len(self._t.secrets)

    def add_link(self, token_hash: str, key_id: str, expires_at: datetime, at: datetime) -> None:
        self._t.links[token_hash] = (key_id, expires_at, None)

    def use_link(self, token_hash: str, at: datetime) -> str | None:
        link = self._t.links.get(token_hash)
        if link is None or link[2] is not None or link[1] <= at:
            return None
        self._t.links[token_hash] = (link[0], link[1], at)
        return link[0]

    def add_session(
        self,
        token_hash: str,
        key_id: str | None,
        expires_at: datetime,
        at: datetime,
        person: str | None = None,
    ) -> None:
        self._t.sessions[token_hash] = (key_id, person, expires_at, None)

    def session_owner(self, token_hash: str, at: datetime) -> tuple[str | None, str | None]:
        session = self._t.sessions.get(token_hash)
        if session is None or session[3] is not None or session[2] <= at:
            return None, None
        return session[0], session[1]

    def revoke_person_sessions(self, handle: str, at: datetime) -> int:
        return self._end(lambda key_id, person: key_id is None and person == handle, at)

    def add_sign_in(
        self, state_hash: str, nonce: str, code_verifier: str, expires_at: datetime, at: datetime
    ) -> None:
        self._t.sign_ins[state_hash] = (nonce, code_verifier, expires_at, None)

    def use_sign_in(self, state_hash: str, at: datetime) -> tuple[str, str] | None:
        found = self._t.sign_ins.get(state_hash)
        if found is None or found[3] is not None or found[2] <= at:
            return None
        self._t.sign_ins[state_hash] = (found[0], found[1], found[2], at)
        return found[0], found[1]

    def revoke_session(self, token_hash: str, at: datetime) -> bool:
        session = self._t.sessions.get(token_hash)
        if session is None or session[3] is not None:
            return False
        self._t.sessions[token_hash] = (*session[:3], at)
        return True

    def revoke_sessions_of(self, key_ids: list[str], at: datetime) -> int:
        return self._end(lambda key_id, _person: key_id in key_ids, at)

    def _end(self, owned: Callable[[str | None, str | None], bool], at: datetime) -> int:
        ended = [
            h
            for h, (key_id, person, expires_at, revoked_at) in self._t.sessions.items()
            if owned(key_id, person) and revoked_at is None and expires_at > at
        ]
        for token_hash in ended:
            self._t.sessions[token_hash] = (*self._t.sessions[token_hash][:3], at)
        return len(ended)
