"""Ports: the interfaces services call and adapters implement (typing.Protocol, no I/O).

One module a concept; every public name is re-exported here (``from so1.ports import X``):

- ``store``: the incident record's repositories, the unit of work, idempotency;
- ``intake``: the alert store, integrations, deliveries, correlation rules, silences;
- ``oncall``: people, teams, schedules, escalation policies, calendar export;
- ``comms``: the outbox and the adapters that deliver its messages;
- ``changes``: the service catalog, deployments, feature flags;
- ``metrics``: pushed samples and the sources that answer range queries;
- ``platform``: the platform that runs services, and health probes;
- ``postmortem``: postmortems and action items;
- ``web``: web sign-in secrets and one-time links;
- ``runtime``: the clock, health checks, agents, background jobs.
"""

from so1.ports.changes import CatalogRepository, DeploymentRepository, FlagRepository
from so1.ports.comms import ChatDirectory, Messenger, OutboxRepository
from so1.ports.identity import AuthorizationRequest, IdentityProvider
from so1.ports.intake import AlertFilter, AlertRepository, IntakeRepository, OpenIncidentOn
from so1.ports.metrics import MetricSampleRepository, MetricsSource
from so1.ports.oncall import CalendarWriter, OnCallRepository
from so1.ports.platform import HealthProbe, Platform, UrlGuard
from so1.ports.postmortem import ActionItemRepository, PostmortemRepository
from so1.ports.runtime import (
    Agent,
    Backlog,
    Clock,
    HealthCheck,
    HealthChecks,
    Job,
    JobRunner,
    JobState,
    TypedAgent,
)
from so1.ports.store import (
    AgentRunRepository,
    AuditRepository,
    EventDispatcher,
    IdempotencyStore,
    IncidentFilter,
    IncidentRepository,
    KeyRepository,
    ParticipantRepository,
    StoredResponse,
    TimelineRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)
from so1.ports.web import WebRepository

__all__ = [
    "ActionItemRepository",
    "Agent",
    "AgentRunRepository",
    "AlertFilter",
    "AlertRepository",
    "AuditRepository",
    "AuthorizationRequest",
    "Backlog",
    "CalendarWriter",
    "CatalogRepository",
    "ChatDirectory",
    "Clock",
    "DeploymentRepository",
    "EventDispatcher",
    "FlagRepository",
    "HealthCheck",
    "HealthChecks",
    "HealthProbe",
    "IdempotencyStore",
    "IdentityProvider",
    "IncidentFilter",
    "IncidentRepository",
    "IntakeRepository",
    "Job",
    "JobRunner",
    "JobState",
    "KeyRepository",
    "Messenger",
    "MetricSampleRepository",
    "MetricsSource",
    "OnCallRepository",
    "OpenIncidentOn",
    "OutboxRepository",
    "ParticipantRepository",
    "Platform",
    "PostmortemRepository",
    "StoredResponse",
    "TimelineRepository",
    "TypedAgent",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UrlGuard",
    "WebRepository",
]
