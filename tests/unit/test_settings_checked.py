"""Settings are checked once, at start-up: a Railway, Slack, Statuspage or PagerDuty
configuration that cannot work stops `so1 serve` and `so1 worker` with one line naming the
variable, before the database is opened; a good one builds its adapter, the one way to it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from so1.adapters.chat.slack import SlackChat
from so1.adapters.paging.pagerduty import PagerDutyPager
from so1.adapters.platform.local import LocalPlatform
from so1.adapters.platform.railway import RailwayPlatform
from so1.adapters.statuspage.atlassian import AtlassianStatusPage
from so1.bootstrap import build_container
from so1.config import Settings, load_settings
from so1.config_check import check
from so1.domain.comms import Destination
from so1.entrypoints.cli import app as cli_app
from so1.errors import ConfigurationError

KEY = "0123456789abcdef0123456789ABCDEF"  # 32 characters, like a PagerDuty integration key
RAILWAY = {
    "SO1_PLATFORM": "railway",
    "SO1_RAILWAY_TOKEN": "token",
    "SO1_RAILWAY_PROJECT_ID": "project",
    "SO1_RAILWAY_ENVIRONMENT_ID": "environment",
}

# (environment, the variable the one line must name, text it must contain)
BAD: dict[str, tuple[dict[str, str], str, str]] = {
    "railway without a token": (
        {
            "SO1_PLATFORM": "railway",
            "SO1_RAILWAY_PROJECT_ID": "p",
            "SO1_RAILWAY_ENVIRONMENT_ID": "e",
        },
        "SO1_RAILWAY_TOKEN",
        "SO1_PLATFORM=railway needs SO1_RAILWAY_TOKEN (not set)",
    ),
    "railway without ids": (
        {"SO1_PLATFORM": "railway", "SO1_RAILWAY_TOKEN": "t", "SO1_RAILWAY_PROJECT_ID": " "},
        "SO1_RAILWAY_PROJECT_ID",
        "needs SO1_RAILWAY_PROJECT_ID and SO1_RAILWAY_ENVIRONMENT_ID (not set)",
    ),
    "railway with a bad URL": (
        RAILWAY | {"SO1_RAILWAY_API_URL": "backboard.railway.com/graphql/v2"},
        "SO1_RAILWAY_API_URL",
        "SO1_RAILWAY_API_URL is not an http(s) URL",
    ),
    "railway services not JSON": (
        RAILWAY | {"SO1_RAILWAY_SERVICES": "api=svc-1"},
        "SO1_RAILWAY_SERVICES",
        "SO1_RAILWAY_SERVICES is not valid JSON",
    ),
    "slack without a token": (
        {"SO1_CHAT": "slack"},
        "SO1_SLACK_BOT_TOKEN",
        "SO1_CHAT=slack needs SO1_SLACK_BOT_TOKEN (not set)",
    ),
    "slack with a bad URL": (
        {"SO1_CHAT": "slack", "SO1_SLACK_BOT_TOKEN": "xoxb-1", "SO1_SLACK_API_URL": "slack"},
        "SO1_SLACK_API_URL",
        "is not an http(s) URL: 'slack' (SO1_CHAT=slack)",
    ),
    "statuspage without a key": (
        {"SO1_STATUS_PAGE": "atlassian", "SO1_STATUSPAGE_PAGE_ID": "page"},
        "SO1_STATUSPAGE_API_KEY",
        "SO1_STATUS_PAGE=atlassian needs SO1_STATUSPAGE_API_KEY (not set)",
    ),
    "pagerduty without keys": (
        {"SO1_PAGER": "pagerduty"},
        "SO1_PAGERDUTY_ROUTING_KEYS",
        "SO1_PAGER=pagerduty needs SO1_PAGERDUTY_ROUTING_KEYS (not set)",
    ),
    "pagerduty with a short key": (
        {"SO1_PAGER": "pagerduty", "SO1_PAGERDUTY_ROUTING_KEYS": '{"default": "abc123"}'},
        "SO1_PAGERDUTY_ROUTING_KEYS",
        "the key for 'default' is not a 32-character PagerDuty integration key",
    ),
    "an unknown pager": (
        {"SO1_PAGER": "opsgenie"},
        "SO1_PAGER",
        "SO1_PAGER: Input should be 'builtin' or 'pagerduty'",
    ),
    "sso without a client secret": (
        {"SO1_OIDC_ISSUER": "https://id.example.test", "SO1_OIDC_CLIENT_ID": "so1"},
        "SO1_OIDC_CLIENT_SECRET",
        "SO1_OIDC_ISSUER needs SO1_OIDC_CLIENT_SECRET (not set)",
    ),
    "sso with an issuer that is no URL": (
        {"SO1_OIDC_ISSUER": "id.example.test", "SO1_OIDC_CLIENT_ID": "so1"}
        | {"SO1_OIDC_CLIENT_SECRET": "s"},
        "SO1_OIDC_ISSUER",
        "SO1_OIDC_ISSUER is not an http(s) URL",
    ),
    "a role map naming no role": (
        {"SO1_OIDC_ROLE_MAP": "sre=responder,admins=boss"},
        "SO1_OIDC_ROLE_MAP",
        "'boss' in 'admins=boss' is not a role",
    ),
    "a role map entry without =": (
        {"SO1_OIDC_ROLE_MAP": "sre"},
        "SO1_OIDC_ROLE_MAP",
        "'sre' is not group=role",
    ),
    "key sign-in off without sso": (
        {"SO1_LOGIN_WITH_KEYS": "false"},
        "SO1_OIDC_ISSUER",
        "SO1_LOGIN_WITH_KEYS=false needs SO1_OIDC_ISSUER",
    ),
}


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No SO1_* variable from the outside, no so1.toml, and a database that must stay unmade."""
    for name in [n for n in os.environ if n.startswith("SO1_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "so1.db"
    monkeypatch.setenv("SO1_DATABASE_URL", f"sqlite:///{database}")
    return database


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_configuration_is_one_error_naming_the_variable(
    case: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, variable, text = BAD[case]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert raised.value.variable == variable
    assert text in raised.value.detail
    assert "\n" not in raised.value.detail
    assert KEY not in raised.value.detail and "abc123" not in raised.value.detail


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(
    "case",
    [
        "railway without a token",
        "slack without a token",
        "statuspage without a key",
        "pagerduty with a short key",
    ],
)
def test_serve_and_worker_stop_with_one_line(
    command: str, case: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started with a configuration that cannot work")

    monkeypatch.setattr(uvicorn, "run", must_not_serve)
    env, variable, text = BAD[case]
    result = CliRunner().invoke(cli_app, [command], env=env | {"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert variable in lines[0] and text in lines[0]
    assert not clean_env.exists()  # stopped before the database was opened


def test_the_built_in_adapters_need_nothing(clean_env: Path) -> None:
    check(load_settings())


def test_each_chosen_adapter_is_built_once_at_start_up(clean_env: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{clean_env}",
        platform="railway",
        railway_token="token",
        railway_project_id="project",
        railway_environment_id="environment",
        chat="slack",
        slack_bot_token="xoxb-1",
        status_page="atlassian",
        statuspage_page_id="page",
        statuspage_api_key="key",
        pager="pagerduty",
        pagerduty_routing_keys={"default": KEY},
    )
    container = build_container(settings)
    try:
        adapters = container.adapters
        assert isinstance(adapters.platform, RailwayPlatform)
        assert container.deployer.platform is adapters.platform
        assert isinstance(adapters.messengers[Destination.WAR_ROOM], SlackChat)
        assert isinstance(adapters.messengers[Destination.STATUS_PAGE], AtlassianStatusPage)
        assert isinstance(adapters.messengers[Destination.PAGER], PagerDutyPager)
    finally:
        container.close()


def test_the_local_platform_is_the_default(clean_env: Path) -> None:
    container = build_container(Settings(database_url=f"sqlite:///{clean_env}"))
    try:
        assert isinstance(container.adapters.platform, LocalPlatform)
    finally:
        container.close()


def test_build_container_checks_settings_it_is_given(clean_env: Path) -> None:
    with pytest.raises(ConfigurationError, match="SO1_CHAT=slack needs SO1_SLACK_BOT_TOKEN"):
        build_container(Settings(database_url=f"sqlite:///{clean_env}", chat="slack"))
    assert not clean_env.exists()
