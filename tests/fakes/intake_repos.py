"""Fakes of the intake repositories (ports/intake.py): the alert store with its dedup rule
(one open alert per (source, dedup_key), duplicates counted in place) and triage queue, and
integrations, deliveries (a redelivery key seen before is refused), rules and silences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from so1.domain.alerts import Alert, AlertEvent, AlertSource, AlertStatus
from so1.domain.intake import CorrelationRule, Delivery, DeliveryOutcome, Integration, Silence
from so1.errors import Conflict
from so1.ports import AlertFilter, Backlog
from so1.ports.intake import OpenIncidentOn, Trigger
from tests.fakes.tables import AlertRow, Tables, kept

REDELIVERY_WINDOW = timedelta(hours=24)  # as adapters/db/intake_repo.py
WAITING = ("pending", "processing")


class FakeAlertRepository:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def _open(self, source: AlertSource, dedup_key: str) -> AlertRow | None:
        return next(
            (
                r
                for r in self._t.alerts.values()
                if (r.alert.source, r.alert.dedup_key) == (source, dedup_key)
                and r.alert.status is not AlertStatus.RESOLVED
            ),
            None,
        )

    def trigger(self, event: AlertEvent, new_id: str, at: datetime, **extra: Any) -> Alert:
        row = self._open(event.source, event.dedup_key)
        if row is not None:  # the partial unique index: count the duplicate in place
            a = row.alert
            row.alert = replace(
                a,
                dedup_count=a.dedup_count + 1,
                last_seen_at=max(a.last_seen_at, at),
                summary=event.summary,
                current_value=event.current_value,
                severity_hint=event.severity_hint or a.severity_hint,
            )
            return kept(row.alert)
        status = AlertStatus(extra.pop("status", AlertStatus.FIRING.value))
        alert = Alert(
            id=new_id,
            source=event.source,
            dedup_key=event.dedup_key,
            status=status,
            summary=event.summary,
            first_seen_at=min(event.occurred_at or at, at),
            last_seen_at=at,
            service=event.service,
            metric=event.metric,
            current_value=event.current_value,
            threshold=event.threshold,
            severity_hint=event.severity_hint,
            labels=dict(event.labels),
            details=dict(event.details),
            is_test=event.is_test,
            **extra,
        )
        self._t.alerts[new_id] = AlertRow(kept(alert))
        return alert

    def transition(
        self, source: AlertSource, dedup_key: str, to: AlertStatus, at: datetime
    ) -> Alert | None:
        row = self._open(source, dedup_key)
        return self._move(row, to, at) if row else None

    def set_status(self, alert_id: str, to: AlertStatus, at: datetime) -> Alert | None:
        row = self._t.alerts.get(alert_id)
        return self._move(row, to, at) if row and row.alert.status.is_open else None

    def _move(self, row: AlertRow, to: AlertStatus, at: datetime) -> Alert | None:
        a = row.alert
        if to is AlertStatus.ACKNOWLEDGED:
            if a.status is AlertStatus.SUPPRESSED:
                return None
            a = replace(a, acknowledged_at=a.acknowledged_at or at)
        if to is AlertStatus.RESOLVED:
            a = replace(a, resolved_at=at)
        row.alert = replace(a, status=to)
        return kept(row.alert)

    def find(self, source: AlertSource, dedup_key: str) -> Alert | None:
        same = [
            r.alert
            for r in self._t.alerts.values()
            if (r.alert.source, r.alert.dedup_key) == (source, dedup_key)
        ]
        same.sort(key=lambda a: (a.status is AlertStatus.RESOLVED, -a.last_seen_at.timestamp()))
        return kept(same[0]) if same else None

    def get(self, alert_id: str) -> Alert | None:
        row = self._t.alerts.get(alert_id)
        return kept(row.alert) if row else None

    def search(self, flt: AlertFilter) -> tuple[list[Alert], int]:
        private = {i.id for i in self._t.incidents.values() if i.private}
        found = [
            a
            for a in (r.alert for r in self._t.alerts.values())
            if (not flt.status or a.status.value in flt.status)
            and (not flt.source or a.source.value == flt.source)
            and (not flt.service or a.service == flt.service)
            and (not flt.incident_id or a.incident_id == flt.incident_id)
            and (flt.seen_since is None or a.last_seen_at >= flt.seen_since)
            and (flt.include_private or a.incident_id not in private)
        ]
        found.sort(key=lambda a: (a.last_seen_at, a.id), reverse=True)
        return kept(found[flt.offset : flt.offset + flt.limit]), len(found)

    def trigger_many(self, triggers: Sequence[Trigger], at: datetime) -> list[Alert]:
        return [self.trigger(e, new_id, at, integration_id=i) for e, new_id, i in triggers]

    def last_resolved_many(
        self, identities: Sequence[tuple[AlertSource, str]]
    ) -> list[Alert | None]:
        return [self.last_resolved(source, key) for source, key in identities]

    def last_resolved(self, source: AlertSource, dedup_key: str) -> Alert | None:
        resolved = [
            r.alert
            for r in self._t.alerts.values()
            if (r.alert.source, r.alert.dedup_key) == (source, dedup_key)
            and r.alert.status is AlertStatus.RESOLVED
        ]
        resolved.sort(key=lambda a: a.resolved_at or a.last_seen_at, reverse=True)
        return kept(resolved[0]) if resolved else None

    def set_flaps(self, alert_id: str, flap_count: int) -> None:
        self._change(alert_id, flap_count=flap_count)

    def _claimable(self, now: datetime, stale_before: datetime | None) -> list[Any]:
        rows = sorted(self._t.alerts.values(), key=lambda r: (r.alert.first_seen_at, r.alert.id))
        pending = [r for r in rows if r.triage_state == "pending"]
        if stale_before is None:
            return pending
        stale = [
            r
            for r in rows
            if r.triage_state == "processing" and (r.claimed_at or now) < stale_before
        ]
        return pending + stale

    def waiting(self, limit: int, stale_before: datetime | None) -> list[tuple[str, str | None]]:
        rows = self._claimable(stale_before or datetime.now(), stale_before)[:limit]
        return [(r.alert.id, r.alert.service) for r in rows]

    def claim_among(
        self, alert_ids: Sequence[str], now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        wanted = set(alert_ids)
        rows = [r for r in self._claimable(now, stale_before) if r.alert.id in wanted]
        for row in rows:
            row.triage_state, row.claimed_at = "processing", now
        return kept(sorted((r.alert for r in rows), key=lambda a: (a.first_seen_at, a.id)))

    def claim_pending(
        self, limit: int, now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        rows = sorted(self._t.alerts.values(), key=lambda r: (r.alert.first_seen_at, r.alert.id))
        claimed = [r for r in rows if r.triage_state == "pending"][:limit]
        if len(claimed) < limit and stale_before is not None:
            stale = [
                r
                for r in rows
                if r.triage_state == "processing" and (r.claimed_at or now) < stale_before
            ]
            claimed += stale[: limit - len(claimed)]
        for row in claimed:
            row.triage_state, row.claimed_at = "processing", now
        found = sorted((r.alert for r in claimed), key=lambda a: (a.first_seen_at, a.id))
        return kept(found)

    def finish_triage(self, alert_id: str, state: str, run_id: str | None = None) -> None:
        row = self._t.alerts.get(alert_id)
        if row is not None:
            row.triage_state, row.triage_run_id = state, run_id

    def finish_many(self, alert_ids: Sequence[str], state: str) -> None:
        for alert_id in alert_ids:
            if alert_id in self._t.alerts:
                self._t.alerts[alert_id].triage_state = state

    def close(self, alert_id: str, at: datetime, reason: str) -> None:
        self._change(alert_id, status=AlertStatus.RESOLVED, resolved_at=at, closed_reason=reason)

    def attach(self, alert_ids: Sequence[str], incident_id: str) -> None:
        for alert_id in alert_ids:
            self._change(alert_id, incident_id=incident_id)

    def attach_many(self, pairs: Sequence[tuple[str, str]], finished_as: str | None = None) -> None:
        for alert_id, incident_id in pairs:
            self._change(alert_id, incident_id=incident_id)
        if finished_as is not None:
            self.finish_many([alert_id for alert_id, _ in pairs], finished_as)

    def recent(self, services: Sequence[str], since: datetime, limit: int = 500) -> list[Alert]:
        found = [
            r.alert
            for r in self._t.alerts.values()
            if r.alert.service in services and r.alert.last_seen_at >= since
        ]
        found.sort(key=lambda a: a.id)
        found.sort(key=lambda a: a.last_seen_at, reverse=True)
        return kept(found[:limit])

    def gatherable(self, services: Sequence[str], since: datetime, limit: int = 500) -> list[Alert]:
        waiting = {r.alert.id for r in self._t.alerts.values() if r.triage_state == "pending"}
        found = [
            a
            for a in self.recent(services, since, len(self._t.alerts))
            if a.status.is_open and a.incident_id is None and a.id not in waiting
        ]
        return found[:limit]

    def open_incident_for(self, services: Sequence[str]) -> str | None:
        holding = {
            r.alert.incident_id for r in self._t.alerts.values() if r.alert.service in services
        }
        candidates = [
            i
            for i in self._t.incidents.values()
            if i.status.is_open and (i.service in services or i.id in holding)
        ]
        candidates.sort(key=lambda i: i.detected_at, reverse=True)
        return candidates[0].id if candidates else None

    def open_incidents_for(self, services: Sequence[str]) -> list[OpenIncidentOn]:
        found = {
            OpenIncidentOn(i.id, i.service, i.detected_at)
            for i in self._t.incidents.values()
            if i.status.is_open and i.service is not None and i.service in services
        }
        opened = {i.id: i for i in self._t.incidents.values() if i.status.is_open}
        for alert in (r.alert for r in self._t.alerts.values()):
            incident = opened.get(alert.incident_id or "")
            if incident is not None and alert.service is not None and alert.service in services:
                found.add(OpenIncidentOn(incident.id, alert.service, incident.detected_at))
        return sorted(found, key=lambda o: (o.incident_id, o.service))

    def count_for_incidents(self, incident_ids: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for alert in (r.alert for r in self._t.alerts.values()):
            if alert.incident_id is not None and alert.incident_id in incident_ids:
                counts[alert.incident_id] = counts.get(alert.incident_id, 0) + 1
        return counts

    def count_for_incident(self, incident_id: str) -> int:
        return sum(1 for r in self._t.alerts.values() if r.alert.incident_id == incident_id)

    def count_by_service(self, incident_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in (r.alert for r in self._t.alerts.values()):
            if a.incident_id == incident_id and a.service is not None:
                counts[a.service] = counts.get(a.service, 0) + 1
        return counts

    def first_acknowledged(self, incident_id: str) -> Alert | None:
        acked = [
            r.alert
            for r in self._t.alerts.values()
            if r.alert.incident_id == incident_id and r.alert.acknowledged_at is not None
        ]
        acked.sort(key=lambda a: a.acknowledged_at or a.last_seen_at)
        return kept(acked[0]) if acked else None

    def first_seen_since(self, since: datetime, limit: int) -> list[Alert]:
        found = [r.alert for r in self._t.alerts.values() if r.alert.first_seen_at >= since]
        return kept(sorted(found, key=lambda a: (a.first_seen_at, a.id))[:limit])

    def triage_state(self, alert_id: str) -> str | None:
        row = self._t.alerts.get(alert_id)
        return row.triage_state if row else None

    def triage_run_id(self, alert_id: str) -> str | None:
        row = self._t.alerts.get(alert_id)
        return row.triage_run_id if row else None

    def triage_backlog(self) -> Backlog:
        waiting = [r.alert for r in self._t.alerts.values() if r.triage_state in WAITING]
        return Backlog(len(waiting), min((a.first_seen_at for a in waiting), default=None))

    def prune_expired(self, before: datetime, limit: int) -> int:
        def expired(alert: Alert) -> bool:
            incident = self._t.incidents.get(alert.incident_id or "")
            return (
                alert.status is AlertStatus.RESOLVED
                and alert.last_seen_at < before
                and (alert.resolved_at or alert.last_seen_at) < before
                and (incident is None or not incident.status.is_open)
            )

        gone = [i for i, row in self._t.alerts.items() if expired(row.alert)][:limit]
        for alert_id in gone:
            del self._t.alerts[alert_id]
        return len(gone)

    def _change(self, alert_id: str, **values: Any) -> None:
        row = self._t.alerts.get(alert_id)
        if row is not None:
            row.alert = replace(row.alert, **values)


class FakeIntakeRepository:
    """Integrations keep their secrets as given (the real one seals them at rest)."""

    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_integration(self, integration: Integration) -> None:
        if integration.id in self._t.integrations:
            raise Conflict(f"integration {integration.id} exists")
        self._t.integrations[integration.id] = integration

    def integration(self, integration_id: str) -> Integration | None:
        return self._t.integrations.get(integration_id)

    def integrations(self, source: AlertSource | None = None) -> list[Integration]:
        found = [i for i in self._t.integrations.values() if source in (None, i.source)]
        return sorted(found, key=lambda i: i.created_at)

    def update_integration(self, integration: Integration) -> None:
        if integration.id in self._t.integrations:
            self._t.integrations[integration.id] = integration

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[bool]:
        return [self._add_delivery(d) for d in deliveries]

    def _add_delivery(self, delivery: Delivery) -> bool:
        if delivery.delivery_key is not None:
            same = [
                d
                for d in self._t.deliveries
                if (d.source, d.delivery_key) == (delivery.source, delivery.delivery_key)
            ]
            if any(d.received_at >= delivery.received_at - REDELIVERY_WINDOW for d in same):
                return False  # a redelivery (the unique key); an old key is a new event
        self._t.deliveries.append(kept(delivery))
        return True

    def set_delivery_outcome(self, delivery_id: int, outcome: DeliveryOutcome, detail: str) -> None:
        if 0 < delivery_id <= len(self._t.deliveries):
            stored = self._t.deliveries[delivery_id - 1]
            self._t.deliveries[delivery_id - 1] = replace(stored, outcome=outcome, detail=detail)

    def prune_deliveries(self, before: datetime, now: datetime, limit: int) -> int:
        """The fake keeps every delivery: its ids are their positions in the list."""
        return 0

    def prepare_storage(self, now: datetime) -> list[str]:
        return []

    def drop_expired_weeks(self, alerts_before: datetime, deliveries_before: datetime) -> list[str]:
        return []

    def rules(self) -> list[CorrelationRule]:
        return sorted(self._t.rules.values(), key=lambda r: r.name)

    def put_rule(self, rule: CorrelationRule, at: datetime) -> CorrelationRule:
        known = self._t.rules.get(rule.name)
        rule_id = known.id if known else self._t.next_serial("rules")
        self._t.rules[rule.name] = replace(rule, id=rule_id)
        return self._t.rules[rule.name]

    def add_silence(self, silence: Silence) -> Silence:
        stored = replace(silence, id=self._t.next_serial("silences"))
        self._t.silences.append(kept(stored))
        return stored

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        found = [
            s
            for s in self._t.silences
            if active_at is None or (s.expired_at is None and s.starts_at <= active_at < s.ends_at)
        ]
        return kept(sorted(found, key=lambda s: (s.starts_at, s.id or 0)))

    def expire_silence(self, silence_id: int, at: datetime) -> bool:
        for n, s in enumerate(self._t.silences):
            if s.id == silence_id and s.expired_at is None:
                self._t.silences[n] = replace(s, expired_at=at)
                return True
        return False

    def lock_group(self, key: str, wait: bool = True) -> bool:
        """Always had: one fake unit of work runs at a time."""
        return True

    def lock_groups(self, keys: Sequence[str]) -> set[str]:
        return set(keys)
