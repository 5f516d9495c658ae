"""Alert intake (Phase 1): the alert store, integrations, deliveries, correlation and silences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from so1.domain.alerts import Alert, AlertEvent, AlertSource, AlertStatus
from so1.domain.intake import CorrelationRule, Delivery, DeliveryOutcome, Integration, Silence
from so1.ports.runtime import Backlog


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: Sequence[str] = ()
    source: str | None = None
    service: str | None = None
    incident_id: str | None = None
    limit: int = 50
    offset: int = 0
    seen_since: datetime | None = None  # last seen at or after
    include_private: bool = True  # alerts of security incidents; False without clearance


# An alert event to open or count, the id a new alert gets, and the integration it came by.
Trigger = tuple[AlertEvent, str, str | None]


@dataclass(frozen=True, slots=True)
class OpenIncidentOn:
    """An open incident on ``service``: its own service, or one it holds an alert on."""

    incident_id: str
    service: str
    detected_at: datetime


class AlertRepository(Protocol):
    def trigger(self, event: AlertEvent, new_id: str, at: datetime, **extra: Any) -> Alert:
        """Open a new alert or count a duplicate of the open one with the same identity
        (``integration_id`` the only extra)."""
        ...

    def trigger_many(self, triggers: Sequence[Trigger], at: datetime) -> list[Alert]:
        """``trigger`` for each, in order (a later one counts as a duplicate of an earlier
        one with the same identity), in one round trip."""
        ...

    def transition(
        self, source: AlertSource, dedup_key: str, to: AlertStatus, at: datetime
    ) -> Alert | None:
        """Acknowledge or resolve the open alert with that identity; None when none is open."""
        ...

    def set_status(self, alert_id: str, to: AlertStatus, at: datetime) -> Alert | None: ...
    def find(self, source: AlertSource, dedup_key: str) -> Alert | None:
        """The open alert with this identity, else the most recently resolved one."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...
    def search(self, flt: AlertFilter) -> tuple[list[Alert], int]: ...
    def last_resolved(self, source: AlertSource, dedup_key: str) -> Alert | None: ...
    def last_resolved_many(
        self, identities: Sequence[tuple[AlertSource, str]]
    ) -> list[Alert | None]:
        """``last_resolved`` for each (source, dedup_key), in one round trip."""
        ...

    def set_flaps(self, alert_id: str, flap_count: int) -> None: ...
    def claim_pending(
        self, limit: int, now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        """Pending alerts, and (unless ``stale_before`` is None) claims older than it."""

    def waiting(self, limit: int, stale_before: datetime | None) -> list[tuple[str, str | None]]:
        """(id, service) of the oldest alerts ``claim_pending`` would take, without locking."""
        ...

    def claim_among(
        self, alert_ids: Sequence[str], now: datetime, stale_before: datetime | None
    ) -> list[Alert]:
        """``claim_pending`` restricted to these alerts (those still claimable)."""
        ...

    def finish_triage(self, alert_id: str, state: str, run_id: str | None = None) -> None: ...
    def finish_many(self, alert_ids: Sequence[str], state: str) -> None: ...
    def close(self, alert_id: str, at: datetime, reason: str) -> None: ...
    def attach(self, alert_ids: Sequence[str], incident_id: str) -> None: ...
    def attach_many(self, pairs: Sequence[tuple[str, str]], finished_as: str | None = None) -> None:
        """``attach`` for each (alert id, incident id), in one round trip; with
        ``finished_as``, also ``finish_many`` in that state, in the same write."""
        ...

    def recent(self, services: Sequence[str], since: datetime, limit: int = 500) -> list[Alert]:
        """At most ``limit`` alerts on these services last seen since ``since``, newest first."""
        ...

    def gatherable(self, services: Sequence[str], since: datetime, limit: int = 500) -> list[Alert]:
        """What a new incident on these services gathers: at most ``limit`` of their alerts
        last seen since ``since``, not resolved, on no incident, and not waiting for triage
        (a waiting one joins the incident when triage decides it), newest first."""
        ...

    def open_incident_for(self, services: Sequence[str]) -> str | None:
        """The newest open incident on one of these services or holding an alert on one."""
        ...

    def open_incidents_for(self, services: Sequence[str]) -> list[OpenIncidentOn]:
        """Every open incident on one of these services or holding an alert on one, once
        for each such service: what ``open_incident_for`` picks from, for many groups of
        services in one query."""
        ...

    def count_for_incident(self, incident_id: str) -> int: ...
    def count_for_incidents(self, incident_ids: Sequence[str]) -> dict[str, int]:
        """``count_for_incident`` of each (those holding no alert are left out)."""
        ...

    def count_by_service(self, incident_id: str) -> dict[str, int]: ...
    def first_acknowledged(self, incident_id: str) -> Alert | None:
        """The incident's alert acknowledged earliest, if any was."""
        ...

    def first_seen_since(self, since: datetime, limit: int) -> list[Alert]:
        """Alerts first seen since then, oldest first (for correlation dry runs)."""
        ...

    def triage_state(self, alert_id: str) -> str | None: ...
    def triage_run_id(self, alert_id: str) -> str | None: ...
    def triage_backlog(self) -> Backlog:
        """Alerts not yet triaged (waiting or being triaged), the oldest first seen when."""
        ...

    def prune_expired(self, before: datetime, limit: int) -> int:
        """Remove at most ``limit`` alerts resolved, and last seen, before ``before`` whose
        incident (if any) is no longer open; how many. Storage that drops whole weeks
        (``IntakeRepository.drop_expired_weeks``) leaves its weeks' rows to that."""
        ...


class IntakeRepository(Protocol):
    """Integrations, raw deliveries, correlation rules and silences."""

    def add_integration(self, integration: Integration) -> None: ...
    def integration(self, integration_id: str) -> Integration | None: ...
    def integrations(self, source: AlertSource | None = None) -> list[Integration]: ...
    def update_integration(self, integration: Integration) -> None: ...
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Store the raw deliveries, in order; False for one whose ``delivery_key`` was seen
        for its source within the redelivery window (a redelivery, not stored again)."""
        ...

    def set_delivery_outcome(
        self, delivery_id: int, outcome: DeliveryOutcome, detail: str
    ) -> None: ...
    def prune_deliveries(self, before: datetime, now: datetime, limit: int) -> int:
        """Remove at most ``limit`` deliveries received before ``before`` (and redelivery
        keys past their window, ``now`` being the time); how many deliveries."""
        ...

    def prepare_storage(self, now: datetime) -> list[str]:
        """Make room for the coming rows (weekly partitions, where the storage has them);
        the names of what was created."""
        ...

    def drop_expired_weeks(self, alerts_before: datetime, deliveries_before: datetime) -> list[str]:
        """Where storage is split by week: drop each week of deliveries that ended before
        ``deliveries_before``, and each of alerts that ended before ``alerts_before`` and
        holds only expired alerts (see ``AlertRepository.prune_expired``); their names."""
        ...

    def rules(self) -> list[CorrelationRule]: ...
    def put_rule(self, rule: CorrelationRule, at: datetime) -> CorrelationRule: ...
    def add_silence(self, silence: Silence) -> Silence: ...
    def silences(self, active_at: datetime | None = None) -> list[Silence]: ...
    def expire_silence(self, silence_id: int, at: datetime) -> bool: ...
    def lock_group(self, key: str, wait: bool = True) -> bool:
        """Serialise correlation decisions on one dependency group (``key`` names it) across
        processes until the transaction ends; with ``wait`` False, False if it is held."""
        ...

    def lock_groups(self, keys: Sequence[str]) -> set[str]:
        """``lock_group`` without waiting for each of ``keys``, in one round trip: the keys
        whose groups this transaction now holds (those held by another are left out)."""
        ...
