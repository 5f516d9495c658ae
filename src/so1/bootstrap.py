"""The composition root: checked settings → engine → adapters → the container entrypoints use.

Settings are checked once, before anything is built (``config.check``: a bad Railway, Slack,
Statuspage or PagerDuty configuration stops start-up with one line naming the variable);
then every adapter is built once, and there is one way to reach each: ``container.adapters``.
Post-commit work goes through one ``JobDispatcher``: each unit of work hands it the domain
events of its commit, and it wakes the background jobs they need.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from so1.adapters.chat.builtin import BuiltinChat
from so1.adapters.chat.slack import SlackChat, web_client
from so1.adapters.clock import SystemClock
from so1.adapters.db import capacity
from so1.adapters.db.engine import build_engine, postgres_connect_options
from so1.adapters.db.health import DatabaseHealth
from so1.adapters.db.idempotency import SqlIdempotencyStore
from so1.adapters.db.secret_box import SecretBox, parse_keys
from so1.adapters.db.uow import SqlUnitOfWork
from so1.adapters.diagnostics.postgres import PostgresDiagnostics
from so1.adapters.jobs.procrastinate_runner import ProcrastinateJobRunner
from so1.adapters.jobs.threads import ThreadJobRunner
from so1.adapters.metrics.builtin import BuiltinMetrics
from so1.adapters.metrics.prometheus import PrometheusMetrics
from so1.adapters.outbound import UrlChecker
from so1.adapters.paging.builtin import BuiltinPager
from so1.adapters.paging.pagerduty import PagerDutyPager
from so1.adapters.platform.health_probe import HttpHealthProbe
from so1.adapters.platform.local import LocalPlatform
from so1.adapters.platform.railway import RailwayPlatform
from so1.adapters.platform.railway_client import RailwayClient
from so1.adapters.publishing.ical import IcalWriter
from so1.adapters.publishing.markdown_dir import MarkdownDirectory
from so1.adapters.ratelimit import RateLimiter
from so1.adapters.sources.alertmanager import AlertmanagerAdapter
from so1.adapters.sources.base import SourceAdapter
from so1.adapters.sources.datadog import DatadogAdapter
from so1.adapters.sources.pagerduty_webhooks import PagerDutyWebhooksAdapter
from so1.adapters.sources.sentry import SentryAdapter
from so1.adapters.statuspage.atlassian import AtlassianStatusPage
from so1.adapters.statuspage.builtin import BuiltinStatusPage
from so1.agents.registry import Agents, default_agents
from so1.agents.triage import TriageAgent
from so1.config import Settings, check, load_settings
from so1.domain.alerts import AlertSource
from so1.domain.comms import Destination
from so1.domain.outbound import OutboundPolicy
from so1.domain.records import AgentName
from so1.errors import ConfigurationError, NotFound
from so1.ports import (
    CalendarWriter,
    Clock,
    HealthCheck,
    HealthProbe,
    IdempotencyStore,
    Job,
    JobRunner,
    Messenger,
    MetricsSource,
    Platform,
    UnitOfWork,
    UnitOfWorkFactory,
    UrlGuard,
)
from so1.services.access.keys import KeyCache
from so1.services.background import JobDispatcher, JobSettings, background_jobs
from so1.services.intake.writer import IngestWriter
from so1.services.mitigation.runs import DeployerDeps


@dataclass
class Adapters:
    """The outside systems, each built once from the checked settings."""

    messengers: dict[Destination, Messenger]  # war room, status page, pager
    platform: Platform
    metrics: MetricsSource
    health_probe: HealthProbe  # services' own health checks (clocks job)
    url_guard: UrlGuard  # where users' URLs may lead (SO1_OUTBOUND_ALLOW)
    diagnostics: dict[str, PostgresDiagnostics]  # the services' databases (database playbook)
    postmortems: MarkdownDirectory  # where published postmortems are written
    calendar: CalendarWriter = field(default_factory=IcalWriter)


@dataclass
class Intake:
    """What alert intake needs beyond the database: the vendors' parsers, the Events v2 rate
    limit, and the group-commit writer (servers only)."""

    sources: dict[AlertSource, SourceAdapter]
    limiter: RateLimiter
    writer: IngestWriter | None = None


@dataclass
class Jobs:
    """Background work in this process: the dispatcher (and the runner it wakes), the pool
    platform actions run in, and what runs where (for `so1 worker`'s banner)."""

    dispatcher: JobDispatcher
    actions: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="so1-action")
    )
    engine: str = ""  # which engine runs the jobs in this process ("" when none)
    names: list[str] = field(default_factory=list)
    job_pool: int = capacity.DEFER_POOL  # the job engine's pool (within SO1_DB_POOL_SIZE)
    connect_options: dict[str, Any] = field(default_factory=dict)  # its connections' options


@dataclass
class Edge:
    """What the HTTP edge keeps between requests: verified keys, idempotent replays, and the
    checks behind /v1/health."""

    key_cache: KeyCache
    idempotency: IdempotencyStore
    health_checks: dict[str, HealthCheck]


INGEST_WRITER = "ingest_writer"  # its health check's name


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    uow: UnitOfWorkFactory
    secret_box: SecretBox  # seals secrets kept in the database
    agents: Agents
    adapters: Adapters
    intake: Intake
    jobs: Jobs
    edge: Edge

    @property
    def deployer(self) -> DeployerDeps:
        """What a platform action needs; NotFound when no railway-deployer is registered."""
        agent = self.agents.deployer
        if agent is None:
            raise NotFound(f"the {AgentName.DEPLOYER} agent is not registered")
        return DeployerDeps(
            agent=agent,
            platform=self.adapters.platform,
            background=self._in_background,
            follow_timeout=self.settings.deploy_follow_seconds,
        )

    def _in_background(self, work: Callable[[], None]) -> None:
        self.jobs.actions.submit(work)

    @property
    def triage_agent(self) -> TriageAgent:
        if self.agents.triage is None:
            raise NotFound(f"the {AgentName.TRIAGE} agent is not registered")
        return self.agents.triage

    def start_background(self, server: bool = True) -> None:
        """API servers: the intake writer, and (with SO1_BACKGROUND=server, the default) the
        background jobs in threads; `so1 worker` (``server=False``): the jobs only, on
        procrastinate when the database is PostgreSQL. Never the CLI."""
        if server and self.intake.writer is None:
            self.intake.writer = IngestWriter(self.uow, self.clock)
            self.intake.writer.start()
            self.edge.health_checks[INGEST_WRITER] = self.intake.writer.health
        if self.jobs.dispatcher.runner is not None:
            return
        jobs = background_jobs(
            self.uow,
            self.clock,
            self.jobs.dispatcher.wake,
            _job_settings(self.settings),
            self.agents,
            self.adapters.messengers,
            self.adapters.metrics,
            self.adapters.health_probe,
        )
        on_postgres = self.engine.dialect.name == "postgresql"
        if server and self.settings.background == "worker":
            if not on_postgres:
                return  # `so1 worker` polls the SQLite database
            # Only defers: a committed alert or message wakes a worker through the engine.
            self._run_jobs(self._procrastinate(jobs, execute=False), "")
        elif not server and on_postgres:
            self._run_jobs(self._procrastinate(jobs, execute=True), "procrastinate")
        elif jobs:
            self._run_jobs(ThreadJobRunner(jobs), "in-process")
        self.jobs.names = [job.name for job in jobs] if self.jobs.engine else []

    def _procrastinate(self, jobs: list[Job], *, execute: bool) -> ProcrastinateJobRunner:
        return ProcrastinateJobRunner(
            self.settings.database_url,
            jobs,
            execute=execute,
            stall_seconds=self.settings.worker_stall_seconds,
            pool_size=self.jobs.job_pool,
            connect_options=self.jobs.connect_options,
        )

    def connections_warning(self, processes: int, what: str) -> str | None:
        """PostgreSQL: one line when ``processes`` like this one (SO1_DB_POOL_SIZE each)
        would not fit beside the other SO1 processes and clients; None when they fit."""
        if self.engine.dialect.name != "postgresql":
            return None
        own = processes * self.settings.db_pool_size
        return capacity.read_room(self.engine).warning(own, what)

    def _run_jobs(self, runner: JobRunner, engine: str) -> None:
        runner.start()
        self.jobs.dispatcher.runner, self.jobs.engine = runner, engine

    def stop_background(self) -> None:
        runner = self.jobs.dispatcher.runner
        if runner is not None:
            self.jobs.dispatcher.runner = None
            runner.stop()
        if self.intake.writer is not None:
            self.edge.health_checks.pop(INGEST_WRITER, None)
            self.intake.writer.stop()
            self.intake.writer = None

    def close(self) -> None:
        self.stop_background()
        self.jobs.actions.shutdown(wait=True, cancel_futures=False)
        self.engine.dispose()


def build_container(
    settings: Settings | None = None,
    clock: Clock | None = None,
    agents: Agents | None = None,
    role: str = capacity.SERVER,
) -> Container:
    """Settings from the environment unless given; raises ConfigurationError (one line naming
    the variable) before building anything when they cannot work. ``role`` (serve, worker,
    cli) names the process's connections and splits SO1_DB_POOL_SIZE (see capacity)."""
    if settings is None:
        settings = load_settings()
    else:
        check(settings)
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    box = SecretBox(parse_keys(key))
    budget = capacity.split_pool(settings, role)
    name = capacity.application_name(role, settings.db_pool_size)
    options = postgres_connect_options(name, settings.db_prepared_statements)
    engine = build_engine(
        settings.database_url,
        pool_size=budget.engine_pool,
        application_name=name,
        prepared_statements=settings.db_prepared_statements,
    )
    dispatcher = JobDispatcher()
    uow = _units_of_work(engine, box, dispatcher)
    return Container(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        uow=uow,
        secret_box=box,
        agents=default_agents(settings.status_page_approval) if agents is None else agents,
        adapters=_adapters(settings, uow),
        intake=Intake(
            sources={
                AlertSource.PAGERDUTY: PagerDutyWebhooksAdapter(),
                AlertSource.DATADOG: DatadogAdapter(),
                AlertSource.SENTRY: SentryAdapter(),
                AlertSource.ALERTMANAGER: AlertmanagerAdapter(),
            },
            limiter=RateLimiter(settings.events_rate_limit_per_minute),
        ),
        jobs=Jobs(
            dispatcher,
            actions=ThreadPoolExecutor(
                max_workers=settings.concurrency["deploy"], thread_name_prefix="so1-action"
            ),
            job_pool=max(budget.job_pool, 1),
            connect_options=options,
        ),
        edge=Edge(
            key_cache=KeyCache(settings.auth_cache_seconds),
            idempotency=SqlIdempotencyStore(engine),
            health_checks={"database": DatabaseHealth(engine)},
        ),
    )


def _units_of_work(engine: Engine, box: SecretBox, dispatcher: JobDispatcher) -> UnitOfWorkFactory:
    def open_unit_of_work(read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, read_only=read_only, box=box, dispatch=dispatcher)

    return open_unit_of_work


def _job_settings(settings: Settings) -> JobSettings:
    return JobSettings(
        settings.triage_worker,
        settings.delivery_worker,
        settings.runbook_clocks,
        timedelta(hours=settings.metrics_retention_hours),
        timedelta(minutes=settings.stability_minutes),
        settings.clock_seconds,
        settings.meeting_hours,
        settings.default_escalation_policy,
        settings.concurrency,
    )


def _adapters(settings: Settings, uow: UnitOfWorkFactory) -> Adapters:
    policy = outbound_policy(settings)
    return Adapters(
        messengers={
            Destination.WAR_ROOM: _chat(settings),
            Destination.STATUS_PAGE: _status_page(settings),
            Destination.PAGER: _pager(settings),
        },
        platform=_platform(settings),
        metrics=_metrics(settings, uow),
        health_probe=HttpHealthProbe(settings.health_probe_seconds, policy=policy),
        url_guard=UrlChecker(policy),
        diagnostics={
            name: PostgresDiagnostics(name, url)
            for name, url in settings.diagnose_databases.items()
        },
        postmortems=MarkdownDirectory(
            Path(settings.postmortem_dir), settings.postmortem_git_commit
        ),
    )


def outbound_policy(settings: Settings) -> OutboundPolicy:
    """SO1_OUTBOUND_ALLOW; raises ConfigurationError naming the setting and the bad entry."""
    try:
        return OutboundPolicy.parse(settings.outbound_allow)
    except ValueError as exc:
        raise ConfigurationError(f"SO1_OUTBOUND_ALLOW: {exc}", "SO1_OUTBOUND_ALLOW") from None


def http_client(timeout: float) -> httpx.Client:
    """The outbound HTTP client of one adapter (each has its own pool and timeout): SO1's
    User-Agent, redirects not followed, the process's one TLS context (making one costs
    ~40 ms). Tests give adapters a client on httpx.MockTransport instead."""
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": "so1"},
        verify=_tls(),
    )


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def _metrics(settings: Settings, uow: UnitOfWorkFactory) -> MetricsSource:
    if settings.metrics == "prometheus":
        token = settings.prometheus_token
        secret = token.get_secret_value() if token else None
        return PrometheusMetrics(
            settings.prometheus_url, http_client(10.0), settings.prometheus_window, secret
        )
    return BuiltinMetrics(uow)


# The builders below run after config.check(): a chosen adapter's settings are all present.


def _platform(settings: Settings) -> Platform:
    if settings.platform == "railway":
        assert settings.railway_token is not None
        client = RailwayClient(
            settings.railway_token.get_secret_value(),
            http_client(30.0),
            settings.railway_api_url,
            settings.railway_project_token,
        )
        return RailwayPlatform(
            client,
            str(settings.railway_project_id),
            str(settings.railway_environment_id),
            settings.railway_services,
        )
    password = settings.supervisor_password
    return LocalPlatform(
        Path(settings.local_platform_root),
        settings.supervisor_url,
        settings.supervisor_username,
        password.get_secret_value() if password else None,
    )


def _pager(settings: Settings) -> Messenger:
    if settings.pager == "pagerduty":
        return PagerDutyPager(
            settings.pagerduty_routing_keys, http_client(10.0), settings.pagerduty_events_url
        )
    return BuiltinPager(settings.paging_webhook_url, http_client(10.0))


def _chat(settings: Settings) -> Messenger:
    if settings.chat == "slack":
        assert settings.slack_bot_token is not None
        token = settings.slack_bot_token.get_secret_value()
        return SlackChat(web_client(token, settings.slack_api_url))
    return BuiltinChat()


def _status_page(settings: Settings) -> Messenger:
    if settings.status_page == "atlassian":
        assert settings.statuspage_api_key is not None
        return AtlassianStatusPage(
            str(settings.statuspage_page_id),
            settings.statuspage_api_key.get_secret_value(),
            settings.statuspage_components,
            http_client(10.0),
            settings.statuspage_api_url,
        )
    return BuiltinStatusPage()
