"""After intake: correlate each new alert with open incidents, otherwise triage it and apply
the decision (incident, ticket, or close). Runs in the background worker, and inline for
`POST /v1/orchestrate` with the triage-responder."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from so1.agents.registry import CommanderAgent
from so1.agents.triage import TriageAgent, TriageReport
from so1.domain.alerts import Alert, AlertStatus
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.triage.applying import Prepared, prepare, triage
from so1.services.triage.context import Surroundings, surroundings
from so1.services.triage.joining import JoinTriageMemo, join_many
from so1.services.triage.scope import Scope, group_key, open_incidents_around, scope_of

log = logging.getLogger("so1.triage")

CLAIM_BATCH = 100  # one transaction decides this many; bounded so intake is not held up long
PEEK_FACTOR = 5  # look this many batches ahead for alerts of groups no other worker holds
GROUP_BUSY_PAUSE = 0.05  # seconds to wait when every waiting group is held by another worker
STALE_CLAIM = timedelta(seconds=60)
CORRELATED = "correlated"  # the triage state of an alert joined to an open incident


@dataclass
class _Batch:
    """What one pass knows: its surroundings (read once) and what it decided so far."""

    around: Surroundings
    memo: JoinTriageMemo  # which signals of open incidents were triaged lately
    commander: CommanderAgent | None = None  # runs the declaration when triage opens an incident
    # the open incident of each service group, looked up once per pass (None: none open)
    targets: dict[Scope, str | None] = field(default_factory=dict)
    joined: dict[str, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    finished: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    attached: set[str] = field(default_factory=set)
    # the agent's answers run before anything was written (see _prepare), by alert id
    prepared: dict[str, Prepared] = field(default_factory=dict)


def process_pending(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    recover_stale: bool = True,
    commander: CommanderAgent | None = None,
    memo: JoinTriageMemo | None = None,
) -> int:
    """Claim and process waiting alerts until none is left; returns how many were handled.

    Each pass claims a batch and decides it in one transaction (a storm of thousands of
    related alerts costs a few statements per batch, not per alert); if a pass fails, its
    alerts are retried one transaction each so one bad alert cannot block the rest.
    ``recover_stale`` also takes over claims a crashed worker left (older than a minute);
    the background worker asks for it now and then rather than on every pass. ``memo``:
    the signals of open incidents triaged lately (the worker keeps one across calls)."""
    memo = memo if memo is not None else JoinTriageMemo()
    handled = 0
    while True:
        try:
            count, drained = _process_batch(
                uow_factory, clock, agent, recover_stale, commander, memo
            )
        except Exception:
            log.exception("triage batch failed; retrying its alerts one by one")
            count = _process_singly(uow_factory, clock, agent, commander)
            drained = count < CLAIM_BATCH
        handled += count
        if drained:  # it decided all it saw waiting; a new alert wakes us
            return handled
        if count == 0:  # what waits is being decided by another worker
            time.sleep(GROUP_BUSY_PAUSE)


def _process_batch(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    recover_stale: bool,
    commander: CommanderAgent | None,
    memo: JoinTriageMemo,
) -> tuple[int, bool]:
    """Decide one batch; returns how many alerts it decided and whether those were all it
    saw waiting (none left to another worker, none taken by one since it looked)."""
    now = clock.now()
    with uow_factory() as uow:
        stale_before = now - STALE_CLAIM if recover_stale else None
        waiting = uow.alerts.waiting(CLAIM_BATCH * PEEK_FACTOR, stale_before)
        if not waiting:
            return 0, True
        batch = _Batch(surroundings(uow, now), memo, commander)
        ids, skipped = _lock_groups(uow, waiting, batch)
        claimed = uow.alerts.claim_among(ids, now, stale_before) if ids else []
        _look_around(uow, now, claimed, batch)
        _prepare(uow, agent, now, claimed, batch)
        for alert in claimed:
            _decide(uow, agent, now, alert, batch)
        _flush(uow, now, batch)
        uow.commit()
    drained = not skipped and len(claimed) == len(waiting) < CLAIM_BATCH
    return len(claimed), drained


def _lock_groups(
    uow: UnitOfWork, waiting: list[tuple[str, str | None]], batch: _Batch
) -> tuple[list[str], bool]:
    """Up to a batch of the waiting alerts, whole groups at a time, of the dependency groups
    this worker could lock (never waiting: a held group is left to its holder, so another
    worker takes the next groups), and whether any group was left to another worker. The
    locks are tried a batch's worth of groups at a time, in one statement each."""
    groups: dict[str | None, list[str]] = defaultdict(list)
    rule, graph = batch.around.rule, batch.around.graph
    for alert_id, service in waiting:
        groups[group_key(service, rule, graph)].append(alert_id)
    untried = list(groups.items())
    ids: list[str] = []
    skipped = False
    while untried and len(ids) < CLAIM_BATCH:
        tried, untried = _enough(untried, CLAIM_BATCH - len(ids))
        locked = uow.intake.lock_groups([key for key, _ in tried if key is not None])
        for key, alert_ids in tried:
            if key is None or key in locked:
                ids += alert_ids
            else:
                skipped = True
    return ids[:CLAIM_BATCH], skipped


def _enough(
    groups: list[tuple[str | None, list[str]]], wanted: int
) -> tuple[list[tuple[str | None, list[str]]], list[tuple[str | None, list[str]]]]:
    """The first groups holding at least ``wanted`` alerts in all, and the rest."""
    count = 0
    for n, (_, alert_ids) in enumerate(groups):
        count += len(alert_ids)
        if count >= wanted:
            return groups[: n + 1], groups[n + 1 :]
    return groups, []


def _look_around(uow: UnitOfWork, now: datetime, claimed: list[Alert], batch: _Batch) -> None:
    """The open incident of each group the claimed alerts are in, and when their signals
    were last triaged (by any worker): one query each for the whole batch."""
    rule, graph = batch.around.rule, batch.around.graph
    batch.targets = open_incidents_around(uow, (scope_of(a.service, rule, graph) for a in claimed))
    open_ids = sorted({i for i in batch.targets.values() if i is not None})
    if open_ids:
        batch.memo.recall(uow, open_ids, now)


def _prepare(
    uow: UnitOfWork, agent: TriageAgent, now: datetime, claimed: list[Alert], batch: _Batch
) -> None:
    """Run the agent, before the pass writes any decision, for the first alert of each group
    that will be triaged (and each alert with no service). What it is shown cannot change
    before it is decided: no decision written before its turn touches its group (the
    alerts joined without triage are written at the end). The same holds for the alerts a
    new incident gathers (those not waiting for triage), read here too, and for the agent
    run's record. So the writes that follow are short, and so is the hold on the day's
    incident counter when one opens an incident: another worker can run its agent
    meanwhile."""
    rule, graph = batch.around.rule, batch.around.graph
    seen: set[Scope] = set()
    for alert in claimed:
        scope = scope_of(alert.service, rule, graph)
        if alert.status is AlertStatus.SUPPRESSED or scope in seen:
            continue
        target = batch.targets.get(scope) if scope else None
        joining = target if alert.status is not AlertStatus.RESOLVED else None
        if joining is not None and not batch.memo.due(joining, alert, now):
            continue  # it joins without triage
        if scope:
            seen.add(scope)
        around = batch.around
        batch.prepared[alert.id] = prepare(uow, agent, alert, now, around, joining, in_pass=True)


def _decide(
    uow: UnitOfWork, agent: TriageAgent, now: datetime, alert: Alert, batch: _Batch
) -> None:
    if alert.status is AlertStatus.SUPPRESSED:
        batch.finished["suppressed"].append(alert.id)
        return
    if alert.id in batch.attached:
        batch.finished[CORRELATED].append(alert.id)
        return
    services = scope_of(alert.service, batch.around.rule, batch.around.graph)
    target = batch.targets.get(services) if services else None
    joining = target if alert.status is not AlertStatus.RESOLVED else None
    if joining is not None and not batch.memo.due(joining, alert, now):
        batch.joined[joining].append(alert)  # its signal was triaged lately: join as it is
        batch.finished[CORRELATED].append(alert.id)
        return
    if joining is not None:
        batch.memo.mark(joining, alert, now)
    prepared = batch.prepared.pop(alert.id, None)
    outcome = triage(uow, agent, alert, now, batch.around, batch.commander, joining, prepared)
    if outcome is not None and outcome[1] is not None:
        batch.memo.mark(outcome[1], alert, now)  # the same signal joins it without triage
        if services:
            batch.targets[services] = outcome[1]
            batch.attached.update(outcome[2])


def _flush(uow: UnitOfWork, now: datetime, batch: _Batch) -> None:
    """The alerts joined without triage are attached and marked correlated in one write;
    then every other alert's state."""
    join_many(uow, now, batch.joined, batch.around.rule, finished_as=CORRELATED)
    written = {alert.id for alerts in batch.joined.values() for alert in alerts}
    for state, alert_ids in batch.finished.items():
        rest = [alert_id for alert_id in alert_ids if alert_id not in written]
        if rest:
            uow.alerts.finish_many(rest, state)


def _process_singly(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    commander: CommanderAgent | None,
) -> int:
    now = clock.now()
    with uow_factory() as uow:
        claimed = uow.alerts.claim_pending(CLAIM_BATCH, now, now - STALE_CLAIM)
        uow.commit()
    for alert in claimed:
        try:
            process_alert(uow_factory, clock, agent, alert.id, commander)
        except Exception:  # mark it, so a poison alert is not retried for ever
            log.exception("processing alert %s failed", alert.id)
            with uow_factory() as uow:
                uow.alerts.finish_triage(alert.id, "failed")
                uow.commit()
    return len(claimed)


def process_alert(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    agent: TriageAgent,
    alert_id: str,
    commander: CommanderAgent | None = None,
) -> TriageReport | None:
    """Correlate or triage one alert in one transaction; returns the triage report if run."""
    now = clock.now()
    with uow_factory() as uow:
        alert = uow.alerts.get(alert_id)
        if alert is None:
            return None
        around = surroundings(uow, now)
        rule, graph = around.rule, around.graph
        key = group_key(alert.service, rule, graph)
        if key is not None:
            uow.intake.lock_group(key)
        if uow.alerts.triage_state(alert_id) not in ("pending", "processing"):
            return None
        if alert.status is AlertStatus.SUPPRESSED:
            uow.alerts.finish_triage(alert.id, "suppressed")
            uow.commit()
            return None
        services = scope_of(alert.service, rule, graph)
        incident_id = uow.alerts.open_incident_for(sorted(services)) if services else None
        joining = incident_id if alert.status is not AlertStatus.RESOLVED else None
        outcome = triage(uow, agent, alert, now, around, commander, joining)
        uow.commit()
    return outcome[0] if outcome else None
