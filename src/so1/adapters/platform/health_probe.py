"""HealthProbe over HTTP: one GET of the service's health URL (httpx), read by
domain/health.py. No retries: the next clocks pass probes again, and the gate wants the state
as it is now. Probes run side by side (services/verification/health.py) on one client, which
httpx allows: its connection pool is thread-safe."""

from __future__ import annotations

import httpx

from so1.domain.health import DETAIL_MAX, HealthReading, read_health_answer

BODY_MAX = 64 * 1024  # a health answer is small; do not read a huge one whole
HEADERS = {"Accept": "application/json", "User-Agent": "so1-health-probe"}


class HttpHealthProbe:
    def __init__(self, http: httpx.Client) -> None:
        """``http``: the client the composition root built; its read timeout is how long a
        health check may take (SO1_HEALTH_PROBE_SECONDS). Redirects are not followed."""
        self._http = http

    def check(self, url: str) -> HealthReading:
        try:
            with self._http.stream("GET", url, headers=HEADERS, follow_redirects=False) as answer:
                body = b""
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) >= BODY_MAX:
                        break
                return read_health_answer(answer.status_code, body[:BODY_MAX])
        except httpx.TimeoutException:
            return HealthReading(False, f"no answer within {self._http.timeout.read:g} s")
        except httpx.HTTPError as exc:
            return HealthReading(False, f"cannot connect: {exc}"[:DETAIL_MAX])
