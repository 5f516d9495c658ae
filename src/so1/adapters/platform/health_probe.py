"""HealthProbe over HTTP: one GET of the service's health URL (httpx), read by
domain/health.py. No retries: the next clocks pass probes again, and the gate wants the state
as it is now."""

from __future__ import annotations

import threading

import httpx

from so1.adapters.outbound import guarded_client, refused_by
from so1.domain.health import DETAIL_MAX, HealthReading, read_health_answer
from so1.domain.outbound import OutboundPolicy

BODY_MAX = 64 * 1024  # a health answer is small; do not read a huge one whole


class HttpHealthProbe:
    def __init__(
        self,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        """``policy``: where the URLs (users' ``health_url``) may lead; by default the public
        internet only. ``client`` replaces the guarded client (tests)."""
        self._timeout = timeout
        self._policy = policy or OutboundPolicy()
        self._client = client  # made on the first probe: most processes never probe
        self._making = threading.Lock()  # probes run side by side (services/verification/health.py)

    def _http(self) -> httpx.Client:
        with self._making:
            if self._client is None:
                self._client = guarded_client(
                    self._policy,
                    self._timeout,
                    headers={"Accept": "application/json", "User-Agent": "so1-health-probe"},
                )
            return self._client

    def check(self, url: str) -> HealthReading:
        try:
            with self._http().stream("GET", url) as response:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= BODY_MAX:
                        break
                return read_health_answer(response.status_code, body[:BODY_MAX])
        except httpx.TimeoutException:
            return HealthReading(False, f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            if refused_by(exc):
                return HealthReading(False, f"refused by the outbound policy: {exc}"[:DETAIL_MAX])
            return HealthReading(False, f"cannot connect: {exc}"[:DETAIL_MAX])
