"""The adapters half of the composition root: each outside system built once from the
checked settings (``build_adapters``), and the outbound HTTP client every adapter uses."""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from so1.adapters.chat.builtin import BuiltinChat
from so1.adapters.chat.slack import SlackChat, web_client
from so1.adapters.chat.slack_users import SlackDirectory
from so1.adapters.diagnostics.postgres import PostgresDiagnostics
from so1.adapters.identity.oidc import OidcProvider
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
from so1.adapters.statuspage.atlassian import AtlassianStatusPage
from so1.adapters.statuspage.builtin import BuiltinStatusPage
from so1.config import Settings
from so1.domain.comms import Destination
from so1.domain.outbound import OutboundPolicy
from so1.errors import ConfigurationError
from so1.ports import (
    CalendarWriter,
    ChatDirectory,
    HealthProbe,
    IdentityProvider,
    Messenger,
    MetricsSource,
    Platform,
    UnitOfWorkFactory,
    UrlGuard,
)


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
    identity: IdentityProvider | None = None  # single sign-on (SO1_OIDC_ISSUER), when set
    chat_directory: ChatDirectory | None = None  # who a Slack user is (chat=slack)


def build_adapters(settings: Settings, uow: UnitOfWorkFactory) -> Adapters:
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
        identity=_identity(settings),
        chat_directory=_chat_directory(settings),
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


def _identity(settings: Settings) -> IdentityProvider | None:
    if not settings.oidc_issuer:
        return None
    assert settings.oidc_client_id is not None
    assert settings.oidc_client_secret is not None
    return OidcProvider(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret.get_secret_value(),
        settings.oidc_role_claim,
        http_client(10.0),
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


def _chat_directory(settings: Settings) -> ChatDirectory | None:
    """users.info for the slash command's 3 s: a short timeout."""
    if settings.chat != "slack" or settings.slack_bot_token is None:
        return None
    token = settings.slack_bot_token.get_secret_value()
    return SlackDirectory(web_client(token, settings.slack_api_url, timeout=2))


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
