"""The composition root: settings → engine → adapters → the container entrypoints use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from so1.adapters.chat.builtin import BuiltinChat
from so1.adapters.chat.slack import SlackChat
from so1.adapters.clock import SystemClock
from so1.adapters.db.engine import build_engine
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
from so1.agents.registry import default_agents
from so1.config import Settings
from so1.domain.alerts import AlertSource
from so1.domain.comms import Destination
from so1.domain.outbound import OutboundPolicy
from so1.errors import NotFound, So1Error, ValidationFailed
from so1.ports import (
    Agent,
    CalendarWriter,
    Clock,
    HealthCheck,
    HealthProbe,
    IdempotencyStore,
    JobRunner,
    Messenger,
    MetricsSource,
    Platform,
    UnitOfWork,
    UrlGuard,
)
from so1.services.access.keys import KeyCache
from so1.services.background import (
    DELIVERY,
    TRIAGE,
    TRIAGE_AGENT,
    JobSettings,
    background_jobs,
)
from so1.services.intake.writer import IngestWriter
from so1.services.mitigation.runs import DEPLOYER_AGENT, DeployerDeps


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
    metrics: MetricsSource | None = None  # set by build_container
    health_probe: HealthProbe | None = None  # services' own health checks (clocks job)
    url_guard: UrlGuard = field(default_factory=lambda: UrlChecker(OutboundPolicy()))
    secret_box: SecretBox = field(default_factory=SecretBox)  # seals secrets kept in the DB
    platform: Platform | None = None  # built on first use (a platform action)
    actions: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="so1-action")
    )
    jobs: JobRunner | None = None
    job_engine: str = ""  # which engine runs the jobs in this process ("" when none)
    job_names: list[str] = field(default_factory=list)
    ingest_writer: IngestWriter | None = None
    calendar: CalendarWriter = field(default_factory=IcalWriter)
    messengers: dict[Destination, Messenger] = field(default_factory=dict)

    def uow(self, read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only, box=self.secret_box)

    @property
    def metrics_source(self) -> MetricsSource:
        if self.metrics is None:
            self.metrics = _metrics(self.settings, self)
        return self.metrics

    @property
    def diagnostics(self) -> dict[str, PostgresDiagnostics]:
        return {
            name: PostgresDiagnostics(name, url)
            for name, url in self.settings.diagnose_databases.items()
        }

    @property
    def platform_adapter(self) -> Platform:
        """The configured platform; raises ValidationFailed when its settings are missing."""
        if self.platform is None:
            self.platform = _platform(self.settings)
        return self.platform

    def postmortem_folder(self) -> MarkdownDirectory:
        """Where published postmortems are written (and committed, when configured)."""
        return MarkdownDirectory(
            Path(self.settings.postmortem_dir), self.settings.postmortem_git_commit
        )

    def platform_or_none(self) -> Platform | None:
        """The platform, or None when its settings are incomplete (context still works)."""
        try:
            return self.platform_adapter
        except So1Error:
            return None

    @property
    def deployer(self) -> DeployerDeps:
        return DeployerDeps(
            agent=self.agents[DEPLOYER_AGENT],
            platform=self.platform_adapter,
            background=self._in_background,
            follow_timeout=self.settings.deploy_follow_seconds,
        )

    def _in_background(self, work: Callable[[], None]) -> None:
        self.actions.submit(work)

    @property
    def triage_agent(self) -> Agent:
        agent = self.agents.get(TRIAGE_AGENT)
        if agent is None:
            raise NotFound(f"the {TRIAGE_AGENT} agent is not registered")
        return agent

    def start_background(self, server: bool = True) -> None:
        """API servers: the intake writer, and (with SO1_BACKGROUND=server, the default) the
        background jobs in threads; `so1 worker` (``server=False``): the jobs only, on
        procrastinate when the database is PostgreSQL. Never the CLI."""
        if server and self.ingest_writer is None:
            self.ingest_writer = IngestWriter(self.uow, self.clock)
            self.ingest_writer.start()
        if self.jobs is not None:
            return
        jobs = background_jobs(
            self.uow,
            self.clock,
            self.wake_job,
            JobSettings(
                self.settings.triage_worker,
                self.settings.delivery_worker,
                self.settings.runbook_clocks,
                timedelta(hours=self.settings.metrics_retention_hours),
                timedelta(minutes=self.settings.stability_minutes),
                self.settings.clock_seconds,
            ),
            self.agents,
            self.messengers,
            self.metrics_source,
            self.health_probe,
        )
        on_postgres = self.engine.dialect.name == "postgresql"
        url = self.settings.database_url
        if server and self.settings.background == "worker":
            if not on_postgres:
                return  # `so1 worker` polls the SQLite database
            # Only defers: a committed alert or message wakes a worker through the engine.
            self._run_jobs(ProcrastinateJobRunner(url, jobs, execute=False), "")
        elif not server and on_postgres:
            self._run_jobs(ProcrastinateJobRunner(url, jobs, execute=True), "procrastinate")
        elif jobs:
            self._run_jobs(ThreadJobRunner(jobs), "in-process")
        self.job_names = [job.name for job in jobs] if self.job_engine else []

    def _run_jobs(self, runner: JobRunner, engine: str) -> None:
        runner.start()
        self.jobs, self.job_engine = runner, engine

    def stop_background(self) -> None:
        if self.jobs is not None:
            self.jobs.stop()
            self.jobs = None
        if self.ingest_writer is not None:
            self.ingest_writer.stop()
            self.ingest_writer = None

    def wake_job(self, name: str) -> None:
        if self.jobs is not None:
            self.jobs.wake(name)

    def wake_worker(self) -> None:
        """New alerts or new outbound messages were committed: start on them now."""
        self.wake_job(TRIAGE)
        self.wake_job(DELIVERY)

    def close(self) -> None:
        self.stop_background()
        self.actions.shutdown(wait=True, cancel_futures=False)
        self.engine.dispose()


def build_container(
    settings: Settings | None = None,
    clock: Clock | None = None,
    agents: Mapping[str, Agent] | None = None,
) -> Container:
    settings = settings or Settings()
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    box = SecretBox(parse_keys(key))
    engine = build_engine(settings.database_url, pool_size=settings.db_pool_size)
    container = Container(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        idempotency=SqlIdempotencyStore(engine),
        agents=default_agents() if agents is None else agents,
        secret_box=box,
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
    container.metrics = _metrics(settings, container)
    policy = outbound_policy(settings)
    container.url_guard = UrlChecker(policy)
    container.health_probe = HttpHealthProbe(settings.health_probe_seconds, policy=policy)
    return container


def outbound_policy(settings: Settings) -> OutboundPolicy:
    """SO1_OUTBOUND_ALLOW; raises ValidationFailed naming the setting and the bad entry."""
    try:
        return OutboundPolicy.parse(settings.outbound_allow)
    except ValueError as exc:
        raise ValidationFailed(f"SO1_OUTBOUND_ALLOW: {exc}", field="SO1_OUTBOUND_ALLOW") from None


def _metrics(settings: Settings, container: Container) -> MetricsSource:
    if settings.metrics == "prometheus":
        token = settings.prometheus_token
        secret = token.get_secret_value() if token else None
        return PrometheusMetrics(settings.prometheus_url, settings.prometheus_window, secret)
    return BuiltinMetrics(container.uow)


def _platform(settings: Settings) -> Platform:
    if settings.platform == "railway":
        token = settings.railway_token
        if token is None or not settings.railway_project_id or not settings.railway_environment_id:
            raise ValidationFailed(
                "SO1_PLATFORM=railway needs SO1_RAILWAY_TOKEN, SO1_RAILWAY_PROJECT_ID and"
                " SO1_RAILWAY_ENVIRONMENT_ID"
            )
        client = RailwayClient(
            token.get_secret_value(), settings.railway_api_url, settings.railway_project_token
        )
        return RailwayPlatform(
            client,
            settings.railway_project_id,
            settings.railway_environment_id,
            settings.railway_services,
        )
    from so1.adapters.platform.local import LocalPlatform

    password = settings.supervisor_password
    return LocalPlatform(
        Path(settings.local_platform_root),
        settings.supervisor_url,
        settings.supervisor_username,
        password.get_secret_value() if password else None,
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
