"""Alert intake: keep the raw delivery and apply its events to the alert store in one
transaction (durable before the sender is answered); triage happens afterwards."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime

from so1.domain.alerts import (
    Alert,
    AlertAction,
    AlertEvent,
    AlertSource,
    AlertStatus,
    ParsedDelivery,
    storable_event,
)
from so1.domain.events import AlertStored
from so1.domain.incidents import AckChannel
from so1.domain.intake import FLAP_WINDOW, Delivery, DeliveryOutcome, Silence
from so1.domain.json_limits import json_problem
from so1.domain.records import AgentRun
from so1.domain.timeline import EventKind
from so1.errors import Conflict, NotFound, ValidationFailed
from so1.ports import AlertFilter, Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access.clearance import require_act, require_read, sees_private
from so1.services.incidents.acknowledgement import acknowledge_in
from so1.services.incidents.recording import Actor, Change, note, record


@dataclass(frozen=True, slots=True)
class EventResult:
    """What happened to one event: the alert it touched (None when dropped) and how."""

    event: AlertEvent
    alert: Alert | None
    outcome: str  # created, duplicate, acknowledged, resolved, annotated, dropped


@dataclass(frozen=True, slots=True)
class IngestResult:
    results: list[EventResult] = field(default_factory=list)
    duplicate_delivery: bool = False


def _awaiting_triage(results: list[EventResult]) -> list[str]:
    """The new firing alerts among ``results`` (suppressed ones never wait for triage)."""
    return [
        r.alert.id
        for r in results
        if r.outcome == "created" and r.alert is not None and r.alert.status is AlertStatus.FIRING
    ]


def new_alert_id() -> str:
    return f"alt_{secrets.token_hex(10)}"


FREE_FORM = ("details", "labels", "links")  # the parts of an event taken as the sender gave them


def check_storable(parsed: ParsedDelivery) -> None:
    """Refuse, naming the field, a delivery whose events carry JSON past the limits
    (domain.json_limits: too deep, too big, a non-finite number) before anything is stored;
    text the databases cannot store is replaced instead (domain.alerts.storable)."""
    for event in parsed.events:
        for name in FREE_FORM:
            problem = json_problem(getattr(event, name), name, text=False)
            if problem is not None:
                raise ValidationFailed(problem, field=name)


def ingest(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    delivery: Delivery,
    parsed: ParsedDelivery,
) -> IngestResult:
    """Store the delivery and apply its events; a repeated ``delivery_key`` changes nothing."""
    return ingest_batch(uow_factory, clock, [(delivery, parsed)])[0]


def ingest_batch(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    items: list[tuple[Delivery, ParsedDelivery]],
) -> list[IngestResult]:
    """Several deliveries in one transaction (group commit); one result each, in order.

    The raw deliveries are stored first, in one round trip; then the events of the new
    ones are applied in order, consecutive triggers together (``_apply_in_order``)."""
    now = clock.now()
    stored = [_as_stored(delivery, parsed) for delivery, parsed in items]
    with uow_factory() as uow:
        silences = uow.intake.silences(active_at=now)
        is_new = uow.intake.add_deliveries(stored)
        work = [
            (n, event, delivery.integration_id)
            for n, (delivery, (_, parsed), new) in enumerate(
                zip(stored, items, is_new, strict=True)
            )
            if new
            for event in parsed.events
        ]
        applied = _apply_in_order(uow, now, [(e, i) for _, e, i in work], silences)
        results = [IngestResult(duplicate_delivery=not new) for new in is_new]
        for (n, _, _), result in zip(work, applied, strict=True):
            results[n].results.append(result)
        for waiting in _awaiting_triage(applied):
            uow.add_event(AlertStored(waiting))
        uow.commit()
    return results


Work = tuple[AlertEvent, str | None]  # an event and the integration it came by


def _apply_in_order(
    uow: UnitOfWork, now: datetime, work: list[Work], silences: list[Silence]
) -> list[EventResult]:
    """Each event's result, as if applied one by one: a run of triggers on distinct
    identities goes to the store at once; any other event, or a trigger repeating an
    identity of the run, ends the run (a repeat must see what the first one became)."""
    results: list[EventResult] = []
    run: list[Work] = []
    in_run: set[tuple[AlertSource, str]] = set()
    for given, integration_id in work:
        event = storable_event(given)
        identity = (event.source, event.dedup_key)
        if run and (event.action is not AlertAction.TRIGGER or identity in in_run):
            results += _triggers(uow, now, run, silences)
            run, in_run = [], set()
        if event.action is AlertAction.TRIGGER:
            run.append((event, integration_id))
            in_run.add(identity)
        else:
            results.append(apply_event(uow, now, event, integration_id, silences))
    return results + _triggers(uow, now, run, silences)


def _as_stored(delivery: Delivery, parsed: ParsedDelivery) -> Delivery:
    outcome = DeliveryOutcome.ACCEPTED if parsed.events else DeliveryOutcome.IGNORED
    return replace(
        delivery, outcome=outcome, delivery_key=parsed.delivery_key, detail=parsed.ignored_reason
    )


def apply_event(
    uow: UnitOfWork,
    now: datetime,
    event: AlertEvent,
    integration_id: str | None,
    silences: list[Silence],
) -> EventResult:
    event = storable_event(event)
    if event.action is AlertAction.TRIGGER:
        return _triggers(uow, now, [(event, integration_id)], silences)[0]
    if event.action is AlertAction.ANNOTATE:
        return _annotate(uow, now, event)
    to = (
        AlertStatus.ACKNOWLEDGED
        if event.action is AlertAction.ACKNOWLEDGE
        else AlertStatus.RESOLVED
    )
    if integration_id is not None and not _same_sender(uow, event, integration_id):
        return EventResult(event, None, "dropped")  # Events v2: only the opening key may close
    alert = uow.alerts.transition(event.source, event.dedup_key, to, now)
    if alert is None:
        return EventResult(event, None, "dropped")
    kind = (
        EventKind.ALERT_ACKNOWLEDGED if to is AlertStatus.ACKNOWLEDGED else EventKind.ALERT_RESOLVED
    )
    _note_on_incident(uow, alert, now, kind, f"alert {to.value}: {alert.summary}")
    if to is AlertStatus.ACKNOWLEDGED:
        _acknowledge_incident_of(uow, now, alert, _integration_ack(alert))
    return EventResult(event, alert, to.value)


def _integration_ack(alert: Alert) -> tuple[Actor, AckChannel]:
    """Who the sender says acknowledged (PagerDuty names its agent) and through what."""
    who = alert.details.get("agent") if alert.source is AlertSource.PAGERDUTY else None
    via = AckChannel.PAGERDUTY if alert.source is AlertSource.PAGERDUTY else AckChannel.INTEGRATION
    return Actor(name=str(who or alert.source.value)), via


def _acknowledge_incident_of(
    uow: UnitOfWork, now: datetime, alert: Alert, by: tuple[Actor, AckChannel]
) -> None:
    """An acknowledged alert acknowledges its incident (the first acknowledgement stays)."""
    if alert.incident_id is None:
        return
    incident = uow.incidents.get(alert.incident_id, for_update=True)
    if incident is not None:
        acknowledge_in(uow, by[0], now, incident, by[1])


def _triggers(
    uow: UnitOfWork, now: datetime, run: list[Work], silences: list[Silence]
) -> list[EventResult]:
    """Triggers on distinct identities: new alerts opened, repeats counted on the open one;
    a new alert re-opened within FLAP_WINDOW of its last resolution counts a flap, and one
    a silence matches is suppressed (it never waits for triage)."""
    if not run:
        return []
    new_ids = [new_alert_id() for _ in run]
    triggers = [(e, new_id, i) for (e, i), new_id in zip(run, new_ids, strict=True)]
    alerts = uow.alerts.trigger_many(triggers, now)
    created = [n for n, alert in enumerate(alerts) if alert.id == new_ids[n]]
    identities = [(alerts[n].source, alerts[n].dedup_key) for n in created]
    for n, previous in zip(created, uow.alerts.last_resolved_many(identities), strict=True):
        alerts[n] = _opened(uow, now, alerts[n], previous, silences)
    return [
        EventResult(event, alert, "created" if alert.id == new_id else "duplicate")
        for (event, _), alert, new_id in zip(run, alerts, new_ids, strict=True)
    ]


def _opened(
    uow: UnitOfWork, now: datetime, alert: Alert, previous: Alert | None, silences: list[Silence]
) -> Alert:
    if previous and previous.resolved_at and now - previous.resolved_at <= FLAP_WINDOW:
        alert = replace(alert, flap_count=previous.flap_count + 1)
        uow.alerts.set_flaps(alert.id, alert.flap_count)
    silenced = next((s for s in silences if s.matches(alert)), None)
    if silenced is not None:
        alert = uow.alerts.set_status(alert.id, AlertStatus.SUPPRESSED, now) or alert
        uow.alerts.finish_triage(alert.id, "suppressed")
    return alert


def _same_sender(uow: UnitOfWork, event: AlertEvent, integration_id: str) -> bool:
    current = uow.alerts.find(event.source, event.dedup_key)
    return current is None or current.integration_id in (None, integration_id)


def _annotate(uow: UnitOfWork, now: datetime, event: AlertEvent) -> EventResult:
    alert = uow.alerts.find(event.source, event.dedup_key)
    if alert is None:
        return EventResult(event, None, "dropped")
    _note_on_incident(uow, alert, now, EventKind.ALERT_NOTE, event.summary)
    return EventResult(event, alert, "annotated")


def _note_on_incident(
    uow: UnitOfWork, alert: Alert, now: datetime, kind: EventKind, text: str
) -> None:
    if alert.incident_id is None:
        return
    data = {"alert_id": alert.id, "source": alert.source.value, "dedup_key": alert.dedup_key}
    note(uow, Actor(name=alert.source.value), now, alert.incident_id, kind, text, data)


def acknowledge_alert(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    alert_id: str,
    via: AckChannel = AckChannel.API,
) -> Alert:
    """Acknowledge by id (API, CLI, chat); the seed's target is within 2 minutes. The alert's
    incident is acknowledged with it, by the same person."""
    now = clock.now()
    with uow_factory() as uow:
        current = uow.alerts.get(alert_id)
        if current is None:
            raise NotFound(f"alert {alert_id} does not exist")
        require_act(uow, actor, current.incident_id)
        if current.status is AlertStatus.ACKNOWLEDGED:
            return current
        alert = uow.alerts.set_status(alert_id, AlertStatus.ACKNOWLEDGED, now)
        if alert is None:
            raise Conflict(f"alert {alert_id} is {current.status} and cannot be acknowledged")
        seconds = (now - alert.first_seen_at).total_seconds()
        detail = {"seconds_to_acknowledge": round(seconds, 1), "within_target": seconds <= 120}
        record(
            uow, actor, now, Change("alert.acknowledge", "alert", alert_id, "acknowledged", detail)
        )
        _note_on_incident(
            uow,
            alert,
            now,
            EventKind.ALERT_ACKNOWLEDGED,
            f"{actor.name} acknowledged {alert.summary}",
        )
        _acknowledge_incident_of(uow, now, alert, (actor, via))
        uow.commit()
    return alert


def get_alert(uow_factory: UnitOfWorkFactory, alert_id: str, actor: Actor) -> Alert:
    """The alert; one of a security incident does not exist for an actor without clearance."""
    with uow_factory(read_only=True) as uow:
        alert = uow.alerts.get(alert_id)
        try:
            require_read(uow, actor, alert.incident_id if alert else None)
        except NotFound:
            alert = None
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def triage_of_alert(uow_factory: UnitOfWorkFactory, alert_id: str, actor: Actor) -> AgentRun | None:
    """The triage-responder's run for the alert (its report is the run's output), if it ran."""
    get_alert(uow_factory, alert_id, actor)  # the same clearance as the alert
    with uow_factory(read_only=True) as uow:
        run_id = uow.alerts.triage_run_id(alert_id)
        return uow.agent_runs.get(run_id) if run_id else None


def list_alerts(
    uow_factory: UnitOfWorkFactory, flt: AlertFilter, actor: Actor
) -> tuple[list[Alert], int]:
    """Alerts of security incidents are left out for an ``actor`` without clearance."""
    shown = replace(flt, include_private=flt.include_private and sees_private(actor))
    with uow_factory(read_only=True) as uow:
        return uow.alerts.search(shown)
