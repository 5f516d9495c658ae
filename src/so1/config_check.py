"""The start-up checks of the settings (``check``): a chosen adapter that cannot work with
them, or single sign-on set up halfway, stops start-up with one line naming the variable."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from so1.domain.identity import parse_role_map
from so1.errors import ConfigurationError

if TYPE_CHECKING:
    from so1.config import Settings

_REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("platform", "railway"): ("railway_token", "railway_project_id", "railway_environment_id"),
    ("chat", "slack"): ("slack_bot_token",),
    ("status_page", "atlassian"): ("statuspage_page_id", "statuspage_api_key"),
    ("pager", "pagerduty"): ("pagerduty_routing_keys",),
}
_URLS: dict[tuple[str, str], tuple[str, ...]] = {
    ("platform", "railway"): ("railway_api_url",),
    ("chat", "slack"): ("slack_api_url",),
    ("status_page", "atlassian"): ("statuspage_api_url",),
    ("pager", "pagerduty"): ("pagerduty_events_url",),
}
# Events API v2: "the 32-character integration key goes in the body as routing_key".
_PAGERDUTY_KEY = re.compile(r"[A-Za-z0-9]{32}")


def variable(name: str) -> str:
    """The environment variable of setting ``name``."""
    return f"SO1_{name.upper()}"


def check(settings: Settings) -> None:
    """Raise ConfigurationError for the first chosen adapter that cannot work with these
    settings (Railway, Slack, Statuspage, PagerDuty); the built-in ones need nothing."""
    for (choice, value), needed in _REQUIRED.items():
        if getattr(settings, choice) != value:
            continue
        chosen = f"{variable(choice)}={value}"
        missing = [variable(n) for n in needed if not _is_set(getattr(settings, n))]
        if missing:
            raise ConfigurationError(
                f"{chosen} needs {' and '.join(missing)} (not set)", missing[0]
            )
        for name in _URLS[(choice, value)]:
            url = str(getattr(settings, name))
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigurationError(
                    f"{variable(name)} is not an http(s) URL: {url!r} ({chosen})", variable(name)
                )
    if settings.pager == "pagerduty":
        _check_routing_keys(settings.pagerduty_routing_keys)
    _check_sso(settings)


def _check_sso(settings: Settings) -> None:
    """SSO needs its client; the role map must parse; API keys off needs SSO on."""
    try:
        parse_role_map(settings.oidc_role_map)
    except ValueError as exc:
        raise ConfigurationError(f"SO1_OIDC_ROLE_MAP: {exc}", "SO1_OIDC_ROLE_MAP") from None
    if not _is_set(settings.oidc_issuer):
        if not settings.login_with_keys:
            raise ConfigurationError(
                "SO1_LOGIN_WITH_KEYS=false needs SO1_OIDC_ISSUER (no one could sign in)",
                "SO1_OIDC_ISSUER",
            )
        return
    missing = [
        variable(n)
        for n in ("oidc_client_id", "oidc_client_secret")
        if not _is_set(getattr(settings, n))
    ]
    if missing:
        raise ConfigurationError(
            f"SO1_OIDC_ISSUER needs {' and '.join(missing)} (not set)", missing[0]
        )
    parts = urlsplit(str(settings.oidc_issuer))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"SO1_OIDC_ISSUER is not an http(s) URL: {settings.oidc_issuer!r}", "SO1_OIDC_ISSUER"
        )


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def _check_routing_keys(keys: dict[str, str]) -> None:
    name = variable("pagerduty_routing_keys")
    for team, key in keys.items():
        if not _PAGERDUTY_KEY.fullmatch(key):
            raise ConfigurationError(
                f"{name}: the key for {team!r} is not a 32-character PagerDuty integration key",
                name,
            )
