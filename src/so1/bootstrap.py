"""The composition root: settings → engine → adapters → the container entrypoints use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine

from so1.adapters.chat.builtin import BuiltinChat
from so1.adapters.chat.slack import SlackChat
from so1.adapters.clock import SystemClock
from so1.adapters.db.engine import build_engine
from so1.adapters.db.health import DatabaseHealth
from so1.adapters.db.idempotency import SqlIdempotencyStore
from so1.adapters.db.uow import SqlUnitOfWork
from so1.adapters.paging.builtin import BuiltinPager
from so1.adapters.paging.pagerduty import PagerDutyPager
from so1.adapters.publishing.ical import IcalWriter
from so1.adapters.sources.alertmanager import AlertmanagerAdapter
from so1.adapters.sources.base import SourceAdapter
from so1.adapters.sources.datadog import DatadogAdapter
from so1.adapters.sources.pagerduty_webhooks import PagerDutyWebhooksAdapter
from so1.adapters.sources.sentry import SentryAdapter
from so1.adapters.statuspage.atlassian import AtlassianStatusPage
from so1.adapters.statuspage.builtin import BuiltinStatusPage
from so1.agents.registry import default_agents
from so1.config import Settings
from so1.domain.alerts import AlertSource
from so1.domain.comms import Destination
from so1.entrypoints.api.ratelimit import RateLimiter
from so1.entrypoints.ingest_writer import IngestWriter
from so1.entrypoints.worker import ClockWorker, DeliveryWorker, TriageWorker
from so1.errors import NotFound
from so1.ports import (
    Agent,
    CalendarWriter,
    Clock,
    HealthCheck,
    IdempotencyStore,
    Messenger,
    UnitOfWork,
)
from so1.services.access import KeyCache

TRIAGE_AGENT = "triage-responder"
COMMANDER_AGENT = "incident-commander"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    idempotency: IdempotencyStore
    agents: Mapping[str, Agent]
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    sources: dict[AlertSource, SourceAdapter] = field(default_factory=dict)
    events_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(1200))
    key_cache: KeyCache = field(default_factory=lambda: KeyCache(0))
    worker: TriageWorker | None = None
    ingest_writer: IngestWriter | None = None
    calendar: CalendarWriter = field(default_factory=IcalWriter)
    messengers: dict[Destination, Messenger] = field(default_factory=dict)
    delivery: DeliveryWorker | None = None
    clocks: ClockWorker | None = None

    def uow(self, read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only)

    @property
    def triage_agent(self) -> Agent:
        agent = self.agents.get(TRIAGE_AGENT)
        if agent is None:
            raise NotFound(f"the {TRIAGE_AGENT} agent is not registered")
        return agent

    def start_background(self, server: bool = True) -> None:
        """API servers: the intake writer, and (with SO1_BACKGROUND=server, the default) the
        background loops; `so1 worker` (``server=False``): the loops only. Never the CLI."""
        if server and self.ingest_writer is None:
            self.ingest_writer = IngestWriter(self.uow, self.clock)
            self.ingest_writer.start()
        if server and self.settings.background == "worker":
            return  # a separate `so1 worker` process runs them
        if self.settings.triage_worker and TRIAGE_AGENT in self.agents and self.worker is None:
            commander = self.agents.get(COMMANDER_AGENT)
            self.worker = TriageWorker(self.uow, self.clock, self.agents[TRIAGE_AGENT], commander)
            self.worker.start()
        if self.settings.delivery_worker and self.delivery is None:
            self.delivery = DeliveryWorker(self.uow, self.clock, self.messengers)
            self.delivery.start()
        if self.settings.runbook_clocks and self.clocks is None:
            self.clocks = ClockWorker(self.uow, self.clock, self.wake_worker)
            self.clocks.start()

    def stop_background(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.delivery is not None:
            self.delivery.stop()
            self.delivery = None
        if self.clocks is not None:
            self.clocks.stop()
            self.clocks = None
        if self.ingest_writer is not None:
            self.ingest_writer.stop()
            self.ingest_writer = None

    def wake_worker(self) -> None:
        """New alerts or new outbound messages were committed: start on them now."""
        if self.worker is not None:
            self.worker.wake()
        if self.delivery is not None:
            self.delivery.wake()

    def close(self) -> None:
        self.stop_background()
        self.engine.dispose()


def build_container(
    settings: Settings | None = None,
    clock: Clock | None = None,
    agents: Mapping[str, Agent] | None = None,
) -> Container:
    settings = settings or Settings()
    engine = build_engine(settings.database_url, pool_size=settings.db_pool_size)
    return Container(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        idempotency=SqlIdempotencyStore(engine),
        agents=default_agents() if agents is None else agents,
        health_checks={"database": DatabaseHealth(engine)},
        sources={
            AlertSource.PAGERDUTY: PagerDutyWebhooksAdapter(),
            AlertSource.DATADOG: DatadogAdapter(),
            AlertSource.SENTRY: SentryAdapter(),
            AlertSource.ALERTMANAGER: AlertmanagerAdapter(),
        },
        events_limiter=RateLimiter(settings.events_rate_limit_per_minute),
        key_cache=KeyCache(settings.auth_cache_seconds),
        messengers={
            Destination.WAR_ROOM: _chat(settings),
            Destination.STATUS_PAGE: _status_page(settings),
            Destination.PAGER: _pager(settings),
        },
    )


def _pager(settings: Settings) -> Messenger:
    if settings.pager == "pagerduty":
        return PagerDutyPager(settings.pagerduty_routing_keys, settings.pagerduty_events_url)
    return BuiltinPager(settings.paging_webhook_url)


def _chat(settings: Settings) -> Messenger:
    if settings.chat == "slack":
        if settings.slack_bot_token is None:
            raise ValueError("SO1_CHAT=slack needs SO1_SLACK_BOT_TOKEN")
        return SlackChat(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    return BuiltinChat()


def _status_page(settings: Settings) -> Messenger:
    if settings.status_page == "atlassian":
        if not settings.statuspage_page_id or settings.statuspage_api_key is None:
            raise ValueError("SO1_STATUS_PAGE=atlassian needs SO1_STATUSPAGE_PAGE_ID and _API_KEY")
        return AtlassianStatusPage(
            settings.statuspage_page_id,
            settings.statuspage_api_key.get_secret_value(),
            settings.statuspage_components,
            settings.statuspage_api_url,
        )
    return BuiltinStatusPage()
