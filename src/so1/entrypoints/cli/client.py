"""The CLI's HTTP client: SO1_API_URL + SO1_API_KEY, with errors turned into one-line messages
that name the command's own options (``--severity``), not the API's fields (``body.severity``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from so1.config import Settings
from so1.entrypoints.cli.output import fail

try:  # Typer 0.29 and later run on their own copy of click
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - earlier Typer, on click itself
    from click import get_current_context  # type: ignore[no-redef]

_LOCATIONS = ("body", "query", "path")


def api_url_set(settings: Settings) -> bool:
    """Whether SO1_API_URL was given (environment or so1.toml), not just defaulted."""
    return "api_url" in settings.model_fields_set


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    @classmethod
    def from_settings(cls) -> ApiClient:
        settings = Settings()
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(settings.api_url, key)

    @property
    def key_id(self) -> str | None:
        """The public id inside the key (``so1_<id>_<secret>``), when it looks like one."""
        parts = (self._api_key or "").split("_")
        return parts[1] if len(parts) >= 3 and parts[0] == "so1" else None

    def request(
        self,
        method: str,
        path: str,
        text: bool = False,
        fields: Mapping[str, str] | None = None,
        none_on: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> Any:
        """The decoded JSON body of a 2xx answer (its text with ``text``; None for a status in
        ``none_on``); anything else ends the command clearly. ``fields`` names the option
        behind an API field whose name differs (``{"severity_reason": "--reason"}``)."""
        if not self._api_key:
            fail(
                "no API key: set SO1_API_KEY (the first `so1 serve` prints an admin key; "
                "`so1 keys create --name NAME` makes more)"
            )
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            fail(
                f"cannot reach SO1 at {self.base_url} ({type(exc).__name__}); "
                "is `so1 serve` running? Set SO1_API_URL to point elsewhere"
            )
        if text and response.is_success:
            return response.text
        if response.status_code in none_on:
            return None
        return self._decode(response, fields or {})

    def get_public(self, path: str) -> httpx.Response | None:
        """An unauthenticated GET (health); None when the server cannot be reached."""
        try:
            return self._http.get(path)
        except httpx.TransportError:
            return None

    def _decode(self, response: httpx.Response, fields: Mapping[str, str]) -> Any:
        if response.status_code == 401:
            fail("the API key was rejected (missing, wrong, expired or revoked); check SO1_API_KEY")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            return body
        fail(problem_text(response.status_code, body, fields))

    def close(self) -> None:
        self._http.close()


def problem_text(status: int, body: Any, fields: Mapping[str, str] | None = None) -> str:
    """An RFC 9457 problem as one line, or a line per field in error."""
    if not isinstance(body, dict):
        return f"server answered HTTP {status}"
    title = body.get("title", "error")
    errors = [e for e in body.get("errors", []) or [] if isinstance(e, dict)]
    if not errors:
        return f"{title} ({status}): {body.get('detail', '')}"
    named = [f"{option_name(str(e.get('field')), fields)}: {e.get('message')}" for e in errors]
    if len(named) == 1:
        return f"{title} ({status}): {named[0]}"
    return f"{title} ({status}):" + "".join(f"\n  - {line}" for line in named)


def option_name(field: str, fields: Mapping[str, str] | None = None) -> str:
    """``body.severity`` → ``--severity`` when the running command has that option (or
    ``fields`` maps it); otherwise the field without its location (``tier``)."""
    parts = field.split(".")
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    name, rest = parts[0], ".".join(parts[1:])
    suffix = f" ({rest})" if rest else ""
    if fields and name in fields:
        return fields[name] + suffix
    context = get_current_context(silent=True)
    if context is not None:
        for param in context.command.params:
            if param.name == name:
                shown = max(param.opts, key=len) if param.opts else name
                return (shown if shown.startswith("-") else name.upper()) + suffix
    return ".".join(parts)


def call(method: str, path: str, **kwargs: Any) -> Any:
    """One request with a client from the settings (SO1_API_URL, SO1_API_KEY)."""
    client = ApiClient.from_settings()
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()
