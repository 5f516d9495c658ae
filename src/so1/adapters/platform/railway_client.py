"""Railway's public GraphQL API v2 over HTTP (shared/reference/integrations.md §7).

Errors come back as HTTP 200 with ``errors[]`` (for example "Not Authorized"): those are
failures, never retried. 429 always carries ``Retry-After`` and is retried after it; 5xx and
transport errors are retried with back-off. Everything else is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from so1.errors import AuthFailed, RateLimited, Rejected, Unavailable

API = "https://backboard.railway.com/graphql/v2"
ATTEMPTS = 4
MAX_WAIT_SECONDS = 60.0

log = logging.getLogger("so1.platform.railway")


class RailwayClient:
    def __init__(
        self,
        token: str,
        http: httpx.Client,
        api_url: str = API,
        project_token: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``http``: the client the composition root built (its timeout applies).
        ``project_token``: the token is scoped to one environment (``Project-Access-Token``
        header) rather than an account or workspace token (``Authorization: Bearer``)."""
        self._auth = (
            {"Project-Access-Token": token}
            if project_token
            else {"Authorization": f"Bearer {token}"}
        )
        self._http, self._url, self._sleep = http, api_url, sleep

    def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of one GraphQL operation."""
        body = {"query": query, "variables": variables}
        for attempt in range(1, ATTEMPTS + 1):
            wait = self._attempt(body, attempt)
            if isinstance(wait, dict):
                return wait
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")

    def _attempt(self, body: dict[str, Any], attempt: int) -> dict[str, Any] | float:
        """The data, or how long to wait before the next attempt."""
        last = attempt == ATTEMPTS
        try:
            response = self._http.post(self._url, json=body, headers=self._auth)
        except httpx.HTTPError as exc:
            if last:
                raise Unavailable(f"Railway did not answer: {exc}") from exc
            return _backoff(attempt)
        if response.status_code == 429:
            wait = _retry_after(response)
            if last or wait > MAX_WAIT_SECONDS:
                raise RateLimited("Railway rate limit reached", retry_after_seconds=wait)
            log.warning("Railway rate limit; retrying in %.0f s", wait)
            return wait
        if response.status_code >= 500:
            if last:
                raise Unavailable(f"Railway answered {response.status_code}")
            return _backoff(attempt)
        return _data(response)


def _data(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in (401, 403):
        raise AuthFailed(f"Railway refused the token ({response.status_code})")
    try:
        payload: dict[str, Any] = response.json()
    except ValueError:
        raise Rejected(f"Railway answered {response.status_code} without JSON") from None
    errors = payload.get("errors") or []
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors)
        if "not authorized" in messages.lower():
            raise AuthFailed(f"Railway: {messages}")
        raise Rejected(f"Railway: {messages}")
    if response.status_code >= 400:
        raise Rejected(f"Railway answered {response.status_code}")
    data: dict[str, Any] | None = payload.get("data")
    if data is None:
        raise Rejected("Railway answered without data")
    return data


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


def _backoff(attempt: int) -> float:
    return float(min(2 ** (attempt - 1), 8))
