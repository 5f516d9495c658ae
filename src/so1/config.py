"""Settings from SO1_* environment variables (and an optional ./so1.toml); see the README table.

``load_settings()`` and ``check()`` run once at start-up (``so1 serve``, ``so1 worker``, every
container): a setting that cannot work stops the process with one line naming the variable,
instead of failing on the first page, message or deploy.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from so1.config_check import check, variable
from so1.errors import ConfigurationError

# The kinds of background work, each with its own limit so none can starve another:
# triage, delivery (the outbox), clocks (runbook deadlines, escalation...), and deploy (the
# platform actions a server follows to the end).
JOB_KINDS = ("triage", "delivery", "clocks", "deploy")
DEFAULT_CONCURRENCY = "triage=1,delivery=1,clocks=1,deploy=4"
MAX_CONCURRENCY = 32


def parse_concurrency(value: str) -> dict[str, int]:
    """``"triage=2,delivery=1"`` → every kind's limit (the defaults for those left out);
    ValueError naming the entry that cannot work."""
    limits = dict(_concurrency_entries(DEFAULT_CONCURRENCY))
    for kind, count in _concurrency_entries(value):
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r} (kinds: {', '.join(JOB_KINDS)})")
        if not 1 <= count <= MAX_CONCURRENCY:
            raise ValueError(f"{kind}={count}: each limit is 1 to {MAX_CONCURRENCY}")
        if kind == "clocks" and count != 1:
            raise ValueError("clocks=1 only: the clocks job never runs two passes at once")
        limits[kind] = count
    return limits


def _concurrency_entries(value: str) -> list[tuple[str, int]]:
    entries: list[tuple[str, int]] = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        kind, equals, count = entry.partition("=")
        if not equals or not count.strip().isdigit():
            raise ValueError(f"{entry!r} is not KIND=N (e.g. triage=2,delivery=1)")
        entries.append((kind.strip().lower(), int(count)))
    return entries


class Settings(BaseSettings):
    """Every knob SO1 has; each field is documented in README.md's configuration table."""

    model_config = SettingsConfigDict(env_prefix="SO1_", toml_file="so1.toml", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./so1.db", description="SQLAlchemy URL of the database"
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections each process may open, the job engine's included;"
        " never more (no overflow)",
    )
    db_prepared_statements: bool = Field(
        default=True,
        description="let psycopg prepare statements; false behind PgBouncer in transaction mode",
    )
    host: str = Field(default="127.0.0.1", description="address `so1 serve` binds")
    port: int = Field(default=8000, ge=1, le=65535, description="port `so1 serve` binds")
    workers: int = Field(default=1, ge=1, description="server processes for `so1 serve`")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="request body cap")
    key_rotation_grace_seconds: int = Field(
        default=86_400, ge=0, description="how long a rotated key keeps working"
    )
    bootstrap_admin_key: bool = Field(
        default=True, description="create and print an admin key on first start"
    )
    triage_worker: bool = Field(
        default=True, description="triage new alerts in a background thread of each server"
    )
    triage_process: bool = Field(
        default=True,
        description="with SO1_BACKGROUND=server (SQLite or PostgreSQL), `so1 serve` triages"
        " new alerts in a child process it starts and supervises (`so1 worker"
        " --wake-from-stdin`; one for a `--workers N` group), so intake never shares the"
        " interpreter with triage; delivery and clocks stay in the server's threads; false:"
        " triage in a thread of each server",
    )
    background: Literal["server", "worker"] = Field(
        default="server",
        description="where triage, delivery and clocks run: in each API server, or only in"
        " `so1 worker` processes",
    )
    delivery_worker: bool = Field(
        default=True,
        description="deliver war-room messages, status-page updates and pages in a background"
        " thread of each server",
    )
    runbook_clocks: bool = Field(
        default=True,
        description="re-evaluate runbook deadlines (and judge mitigations on the metric gates)"
        " every SO1_CLOCK_SECONDS and escalate late checks once",
    )
    clock_seconds: int = Field(
        default=15, ge=1, le=300, description="how often the clocks job runs (seconds)"
    )
    worker_concurrency: str = Field(
        default=DEFAULT_CONCURRENCY,
        description="passes of each job kind one process runs at once (KIND=N, comma-separated;"
        f" kinds: {', '.join(JOB_KINDS)}; clocks is always 1); kinds left out keep their"
        " default",
    )
    worker_stall_seconds: int = Field(
        default=30,
        ge=3,
        le=600,
        description="PostgreSQL: a `so1 worker` whose heartbeat stops this long is taken as"
        " dead; the passes it left unfinished are failed and queued again",
    )
    chat: Literal["builtin", "slack"] = Field(
        default="builtin", description="the war room: builtin (kept by SO1) or slack"
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, description="Slack bot token (xoxb-...) for chat=slack"
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Slack app signing secret: verifies /v1/slack/commands"
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base (a proxy, a test server)"
    )
    status_page: Literal["builtin", "atlassian"] = Field(
        default="builtin",
        description="customer updates: builtin (/status) or atlassian (Statuspage REST)",
    )
    status_page_approval: Literal["auto", "draft"] = Field(
        default="auto",
        description="SEV0-1 status-page notices: auto (posted at once) or draft (a person "
        "edits and publishes them)",
    )
    statuspage_page_id: str | None = Field(default=None, description="Atlassian Statuspage page id")
    statuspage_api_key: SecretStr | None = Field(default=None, description="Statuspage API key")
    statuspage_components: dict[str, str] = Field(
        default_factory=dict, description='JSON {"service name": "Statuspage component id"}'
    )
    statuspage_api_url: str = Field(
        default="https://api.statuspage.io/v1/", description="Statuspage API base URL"
    )
    pager: Literal["builtin", "pagerduty"] = Field(
        default="builtin",
        description="where pages go: builtin (log + optional webhook) or pagerduty (Events v2)",
    )
    pagerduty_routing_keys: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"team or service": "integration key", "default": "..."}',
    )
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint"
    )
    paging_webhook_url: str | None = Field(
        default=None,
        description="builtin paging: also POST each page as JSON to this URL (SMS/phone bridge)",
    )
    events_rate_limit_per_minute: int = Field(
        default=1200, ge=1, description="Events v2 (/v2/enqueue) events per routing key per minute"
    )
    integration_rotation_grace_seconds: int = Field(
        default=86_400, ge=0, description="how long a rotated integration secret keeps working"
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="how long a verified API key or webhook integration is trusted without a read",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="single sign-on: the OpenID provider's issuer URL (discovery is read under"
        " it); unset: no SSO",
    )
    oidc_client_id: str | None = Field(default=None, description="SSO: SO1's client id")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="SSO: SO1's client secret"
    )
    oidc_role_claim: str = Field(
        default="groups", min_length=1, description="SSO: the id_token claim listing groups"
    )
    oidc_role_map: str = Field(
        default="",
        description="SSO: group=role pairs, comma-separated (sre=responder,admins=admin)",
    )
    oidc_auto_create: bool = Field(
        default=False,
        description="SSO: a verified email nobody has becomes a new viewer (else refused)",
    )
    login_with_keys: bool = Field(
        default=True,
        description="the web pages accept API keys and login links (false: SSO only)",
    )
    default_escalation_policy: str = Field(
        default="default",
        min_length=1,
        max_length=100,
        description="escalation policy (a name in the on-call config) for incidents whose"
        " service has no owner team or policy; without one of that name, the built-in policy:"
        " everyone on call, then the engineering leads, then the executives",
    )
    metrics: Literal["builtin", "prometheus"] = Field(
        default="builtin",
        description="where service metrics are read: builtin (pushed to POST /v1/metrics) or"
        " prometheus",
    )
    prometheus_url: str = Field(
        default="http://127.0.0.1:9090", description="Prometheus base URL for metrics=prometheus"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, that seal stored secrets (the first seals)",
    )
    prometheus_token: SecretStr | None = Field(
        default=None, description="bearer token sent to Prometheus (behind an auth proxy)"
    )
    prometheus_window: str = Field(
        default="1m",
        pattern=r"^[0-9]+[smh]$",
        description="range of rate() in the default PromQL (at least 4x the scrape interval)",
    )
    stability_minutes: float = Field(
        default=30.0,
        gt=0,
        description="how long the gates must pass after a mitigation before SO1 resolves the"
        " incident (the runbook's 30 minutes)",
    )
    metrics_retention_hours: int = Field(
        default=168, ge=1, description="how long pushed metric samples are kept"
    )
    alert_retention_days: int = Field(
        default=90,
        ge=1,
        description="how long a resolved alert is kept after it was last seen and resolved"
        " (never one of an open incident; the clocks job removes older ones)",
    )
    delivery_retention_days: int = Field(
        default=14, ge=1, description="how long raw deliveries (webhook requests) are kept"
    )
    platform: Literal["local", "railway"] = Field(
        default="local",
        description="where services run, for the railway-deployer: local (supervisord on this"
        " machine) or railway",
    )
    local_platform_root: str = Field(
        default="so1-local", description="local platform: releases, env and history per service"
    )
    supervisor_url: str = Field(
        default="http://127.0.0.1:9001",
        description="local platform: supervisord's inet_http_server",
    )
    supervisor_username: str | None = Field(default=None, description="supervisord user")
    supervisor_password: SecretStr | None = Field(default=None, description="supervisord password")
    railway_token: SecretStr | None = Field(default=None, description="Railway API token")
    railway_project_token: bool = Field(
        default=False,
        description="the Railway token is a project token (Project-Access-Token header)",
    )
    railway_api_url: str = Field(
        default="https://backboard.railway.com/graphql/v2", description="Railway GraphQL endpoint"
    )
    railway_project_id: str | None = Field(default=None, description="Railway project id")
    railway_environment_id: str | None = Field(default=None, description="Railway environment id")
    railway_services: dict[str, str] = Field(
        default_factory=dict, description="SO1 service name → Railway service id (JSON)"
    )
    diagnose_databases: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: name → PostgreSQL URL of the services' databases the database"
        " playbook may inspect (use a role with pg_monitor and pg_signal_backend)",
    )
    deploy_follow_seconds: float = Field(
        default=600.0, gt=0, description="how long a platform action follows its deployment"
    )
    health_probe_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="how long a service's health check may take before it counts as failing",
    )
    outbound_allow: str = Field(
        default="",
        description="comma-separated CIDRs and host names SO1 may call although they are"
        " inside (loopback, private, link-local...) for URLs users set: health_url",
    )
    war_room_archive: Literal["on_publish", "never"] = Field(
        default="on_publish",
        description="archive the war room when its postmortem is published, or never",
    )
    postmortem_dir: str = Field(
        default="so1-content",
        description="published postmortems are written to <dir>/postmortems/YYYY-MM-DD-<slug>.md",
    )
    postmortem_git_commit: bool = Field(
        default=False, description="commit each published postmortem (the dir is a git repo)"
    )
    postmortem_reviewers: int = Field(
        default=1,
        ge=1,
        le=10,
        description="how many people, other than the last revision's author and the publisher,"
        " must tick every review check before a postmortem is published",
    )
    postmortem_meeting_hours: str = Field(
        default="10-16",
        pattern=r"^([01]?[0-9]|2[0-4])-([01]?[0-9]|2[0-4])$",
        description="working hours (START-END, the owning team's time zone) the 60-minute"
        " postmortem review must fit in, on Monday to Friday",
    )
    log_level: str = Field(default="info", description="debug, info, warning, error")
    access_log: bool = Field(
        default=True,
        description="one line per HTTP request from `so1 serve` on stdout, in uvicorn's"
        " access-log format, written in batches up to 0.1 s later; false leaves it out",
    )
    api_url: str = Field(default="http://127.0.0.1:8000", description="server the CLI talks to")
    api_key: SecretStr | None = Field(default=None, description="API key the CLI sends")

    @field_validator("worker_concurrency")
    @classmethod
    def _concurrency_parses(cls, value: str) -> str:
        parse_concurrency(value)
        return value

    @property
    def concurrency(self) -> dict[str, int]:
        """SO1_WORKER_CONCURRENCY as {kind: passes at once}, every kind present."""
        return parse_concurrency(self.worker_concurrency)

    @field_validator("postmortem_meeting_hours")
    @classmethod
    def _meeting_fits(cls, value: str) -> str:
        start, end = (int(h) for h in value.split("-"))
        if end - start < 1:
            raise ValueError(f"{value!r}: END must be at least an hour after START (e.g. 10-16)")
        return value

    @property
    def meeting_hours(self) -> tuple[int, int]:
        """SO1_POSTMORTEM_MEETING_HOURS as (first hour, hour it must end by)."""
        start, end = self.postmortem_meeting_hours.split("-")
        return int(start), int(end)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over so1.toml, which wins over defaults.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


# What each outside system needs once it is chosen: (setting, value) → settings that must be set.
def load_settings(**values: Any) -> Settings:
    """Settings from the environment (``values`` win), checked; a bad one raises
    ConfigurationError with one line naming its variable."""
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = variable(str(first["loc"][0])) if first["loc"] else "SO1_*"
        raise ConfigurationError(f"{name}: {first['msg']}", name) from None
    except SettingsError as exc:  # a JSON setting that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        name = variable(found.group(1)) if found else "SO1_*"
        raise ConfigurationError(f"{name} is not valid JSON: {exc.__cause__}", name) from None
    check(settings)
    return settings
