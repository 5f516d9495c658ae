"""The in-memory tables the fake repositories keep (tests/fakes/unit_of_work.py holds them)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from so1.domain.access import ApiKey
from so1.domain.alerts import Alert
from so1.domain.catalog import CatalogService
from so1.domain.changes import Deployment, FeatureFlag, FlagChange
from so1.domain.comms import Outbound
from so1.domain.incidents import Incident, SeverityChange, TimelineEvent
from so1.domain.intake import CorrelationRule, Delivery, Integration, Silence
from so1.domain.metrics import Sample
from so1.domain.oncall import EscalationPolicy, Person, Schedule, Team, Window
from so1.domain.participants import Participation
from so1.domain.postmortem import ActionItem, Postmortem
from so1.domain.records import AgentRun, AuditRecord

T = TypeVar("T")


@dataclass
class AlertRow:
    """An alert with the triage queue columns the domain record does not carry."""

    alert: Alert
    triage_state: str = "pending"
    triage_run_id: str | None = None
    claimed_at: datetime | None = None


@dataclass
class Tables:
    """Everything stored; lists keep insertion order (the ids' order)."""

    day_counters: dict[date, int] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    severity_changes: list[SeverityChange] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    participants: list[Participation] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    agent_runs: dict[str, AgentRun] = field(default_factory=dict)
    alerts: dict[str, AlertRow] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    rules: dict[str, CorrelationRule] = field(default_factory=dict)
    silences: list[Silence] = field(default_factory=list)
    catalog: dict[str, CatalogService] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    flags: dict[str, FeatureFlag] = field(default_factory=dict)
    flag_changes: list[FlagChange] = field(default_factory=list)
    outbox: list[Outbound] = field(default_factory=list)
    vendor_refs: dict[int, str] = field(default_factory=dict)
    alarms: set[tuple[str, str, int]] = field(default_factory=set)
    postmortems: dict[str, Postmortem] = field(default_factory=dict)
    action_items: list[ActionItem] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    teams: dict[str, Team] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    overrides: list[tuple[str, Window]] = field(default_factory=list)
    time_off: list[Window] = field(default_factory=list)
    policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    links: dict[str, tuple[str, datetime, datetime | None]] = field(default_factory=dict)
    # token hash -> (key id, person, expires at, revoked at)
    sessions: dict[str, tuple[str | None, str | None, datetime, datetime | None]] = field(
        default_factory=dict
    )
    sign_ins: dict[str, tuple[str, str, datetime, datetime | None]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)

    def next_serial(self, name: str) -> int:
        """An autoincrement id per table, starting at 1 (rolled back with the copy)."""
        self.sequences[name] = self.sequences.get(name, 0) + 1
        return self.sequences[name]


def kept(value: T) -> T:
    """A copy, so what a caller holds never aliases what is stored (dicts in payloads)."""
    return copy.deepcopy(value)
