"""The composition root: checked settings → engine → adapters → the container entrypoints use.

Settings are checked once, before anything is built (``config.check``: a bad Railway, Slack,
Statuspage or PagerDuty configuration stops start-up with one line naming the variable);
then every adapter is built once, and there is one way to reach each: ``container.adapters``.
Post-commit work goes through one ``JobDispatcher``: each unit of work hands it the domain
events of its commit, and it wakes the background jobs they need.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from so1.adapters.clock import SystemClock
from so1.adapters.db import capacity
from so1.adapters.db.engine import build_engine, postgres_connect_options
from so1.adapters.db.health import DatabaseHealth
from so1.adapters.db.idempotency import SqlIdempotencyStore
from so1.adapters.db.secret_box import SecretBox, parse_keys
from so1.adapters.db.uow import SqlUnitOfWork
from so1.adapters.jobs.child import ChildProcessJobs, JobRunnerGroup
from so1.adapters.jobs.procrastinate_runner import ProcrastinateJobRunner
from so1.adapters.jobs.threads import ThreadJobRunner
from so1.adapters.jobs.wake_socket import WakeSocketJobs
from so1.adapters.ratelimit import RateLimiter
from so1.adapters.sources.alertmanager import AlertmanagerAdapter
from so1.adapters.sources.base import SourceAdapter
from so1.adapters.sources.datadog import DatadogAdapter
from so1.adapters.sources.pagerduty_webhooks import PagerDutyWebhooksAdapter
from so1.adapters.sources.sentry import SentryAdapter
from so1.agents.registry import Agents, default_agents
from so1.agents.triage import TriageAgent
from so1.bootstrap.wiring import (
    Adapters,
    build_adapters,
    http_client as http_client,
    outbound_policy as outbound_policy,
)
from so1.config import Settings, load_settings
from so1.config_check import check
from so1.domain.alerts import AlertSource
from so1.domain.records import AgentName
from so1.errors import NotFound
from so1.ports import (
    Clock,
    HealthCheck,
    IdempotencyStore,
    Job,
    JobRunner,
    UnitOfWork,
    UnitOfWorkFactory,
)
from so1.services.access.keys import KeyCache
from so1.services.background import (
    TRIAGE,
    TRIAGE_GATHER_SECONDS,
    JobDispatcher,
    JobSettings,
    background_jobs,
)
from so1.services.intake.integrations import IntegrationCache
from so1.services.intake.retention import Retention
from so1.services.intake.writer import IngestWriter
from so1.services.mitigation.runs import DeployerDeps


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
    """What the HTTP edge keeps between requests: verified keys and webhook integrations,
    idempotent replays, and the checks behind /v1/health."""

    key_cache: KeyCache
    integration_cache: IntegrationCache
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

    def start_background(
        self,
        server: bool = True,
        *,
        triage_child: bool = False,
        threads: bool = False,
        triage_wake: str | None = None,
    ) -> None:
        """API servers: the intake writer, and (with SO1_BACKGROUND=server, the default) the
        background jobs in threads, or triage in a child process with ``triage_child`` (what
        `so1 serve` asks for when SO1_TRIAGE_PROCESS is on), or in the triage process of a
        `so1 serve --workers N` group, woken at ``triage_wake``; `so1 worker` (``server=False``):
        the jobs only, on procrastinate when the database is PostgreSQL unless ``threads``
        (a server's triage child, woken through its stdin). Never the CLI."""
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
        elif not server and on_postgres and not threads:
            self._run_jobs(self._procrastinate(jobs, execute=True), "procrastinate")
        elif server and triage_wake and self._child_can_share_database(jobs):
            woken = WakeSocketJobs([TRIAGE], triage_wake)
            self._run_jobs(_beside(woken, jobs), "in-process, triage in the group's child process")
        elif server and triage_child and self._child_can_share_database(jobs):
            child = ChildProcessJobs(
                [TRIAGE], triage_child_command(), triage_child_env(self.settings)
            )
            self._run_jobs(_beside(child, jobs), "in-process, triage in a child process")
        elif jobs:
            self._run_jobs(ThreadJobRunner(jobs), "in-process")
        self.jobs.names = [job.name for job in jobs] if self.jobs.engine else []

    def _child_can_share_database(self, jobs: list[Job]) -> bool:
        """A child process can triage beside the servers: a SQLite file (the database is
        the queue) or PostgreSQL (the same claims `so1 worker` processes take)."""
        return self._shared_database() and any(job.name == TRIAGE for job in jobs)

    def _shared_database(self) -> bool:
        """A database other processes reach: PostgreSQL, or a SQLite file (not in memory)."""
        url = self.engine.url
        if url.get_backend_name() == "postgresql":
            return True
        return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")

    def triage_child_wanted(self) -> bool:
        """Whether `so1 serve` triages in a child process: SO1_TRIAGE_PROCESS and the triage
        job on, the jobs in the servers, a database the child can share (PostgreSQL or a
        SQLite file)."""
        settings = self.settings
        wanted = settings.triage_process and settings.triage_worker
        return wanted and settings.background == "server" and self._shared_database()

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
        adapters=build_adapters(settings, uow),
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
            integration_cache=IntegrationCache(settings.auth_cache_seconds),
            idempotency=SqlIdempotencyStore(engine),
            health_checks={"database": DatabaseHealth(engine)},
        ),
    )


def _units_of_work(engine: Engine, box: SecretBox, dispatcher: JobDispatcher) -> UnitOfWorkFactory:
    def open_unit_of_work(read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(engine, read_only=read_only, box=box, dispatch=dispatcher)

    return open_unit_of_work


def triage_child_command(*wake: str) -> list[str]:
    """`so1 worker` as `so1 serve`'s triage child: ``--wake-from-stdin`` unless ``wake``
    names its wake-up option (``--wake-from-socket ADDRESS``)."""
    return [sys.executable, "-m", "so1", "worker", *(wake or ("--wake-from-stdin",))]


def triage_child_env(settings: Settings) -> dict[str, str]:
    """The triage child's environment: the server's settings and database, triage only."""
    return {
        **os.environ,
        "SO1_DATABASE_URL": settings.database_url,
        "SO1_TRIAGE_WORKER": "true",
        "SO1_DELIVERY_WORKER": "false",
        "SO1_RUNBOOK_CLOCKS": "false",
    }


def _beside(triage: JobRunner, jobs: list[Job]) -> JobRunner:
    """Triage on ``triage`` (another process); the other jobs in this process's threads."""
    rest = [job for job in jobs if job.name != TRIAGE]
    runners: dict[str, JobRunner] = {TRIAGE: triage}
    if rest:
        threads = ThreadJobRunner(rest)
        runners.update({job.name: threads for job in rest})
    return JobRunnerGroup(runners)


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
        Retention(
            timedelta(days=settings.alert_retention_days),
            timedelta(days=settings.delivery_retention_days),
        ),
        triage_gather_seconds=0.0 if _on_sqlite(settings) else TRIAGE_GATHER_SECONDS,
    )


def _on_sqlite(settings: Settings) -> bool:
    """Judged as the engine judges it: the URL's backend, whatever its driver."""
    return make_url(settings.database_url).get_backend_name() == "sqlite"
