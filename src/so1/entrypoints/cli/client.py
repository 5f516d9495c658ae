"""The CLI's HTTP client: SO1_API_URL + SO1_API_KEY, with errors turned into one-line messages."""

from __future__ import annotations

from typing import Any

import httpx

from so1.config import Settings
from so1.entrypoints.cli.output import fail


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

    def request(self, method: str, path: str, text: bool = False, **kwargs: Any) -> Any:
        """The decoded JSON body of a 2xx answer (its text with ``text``); anything else ends
        the command clearly."""
        if not self._api_key:
            fail("no API key: set SO1_API_KEY (create one with `so1 keys create --name NAME`)")
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
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code == 401:
            fail("the API key was rejected (missing, wrong, expired or revoked); check SO1_API_KEY")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            return body
        fail(_problem_text(response.status_code, body))

    def close(self) -> None:
        self._http.close()


def _problem_text(status: int, body: Any) -> str:
    if not isinstance(body, dict):
        return f"server answered HTTP {status}"
    text = f"{body.get('title', 'error')} ({status}): {body.get('detail', '')}"
    for err in body.get("errors", []) or []:
        text += f"\n  - {err.get('field')}: {err.get('message')}"
    return text


def call(method: str, path: str, **kwargs: Any) -> Any:
    """One request with a client from the settings (SO1_API_URL, SO1_API_KEY)."""
    client = ApiClient.from_settings()
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()
