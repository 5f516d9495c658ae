"""A service's own health check, read as the runbook reads it (Phase 3 "Verify service health":
``curl .../v1/health`` → ``{"status": "healthy", "checks": {"database": "ok", ...}}``), pure.

Probe results are kept as the ``health_failing`` series (1 failing, 0 passing) beside the
service's other metrics, so the runbook's "✅ Service health checks passing" is one more
verification gate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

HEALTH_METRIC = "health_failing"
HEALTHY_WORDS = frozenset({"healthy", "ok", "pass", "passing", "up", "green", "available"})
DETAIL_MAX = 300


@dataclass(frozen=True, slots=True)
class HealthReading:
    ok: bool
    detail: str  # what was seen: "200 healthy", "503: database=down", "cannot connect: ..."
    status_code: int | None = None  # None: no HTTP answer

    @property
    def outcome(self) -> str:
        """What may be shown to readers: the status code or why there was none, never the
        answer's body (the URL is a user's, its answer must not become a way to read inside)."""
        if self.status_code is not None:
            return f"HTTP {self.status_code}"
        return self.detail.split(":", 1)[0]

    @property
    def value(self) -> float:
        """The sample kept for the gate: 1.0 failing, 0.0 passing."""
        return 0.0 if self.ok else 1.0


def read_health_answer(status_code: int, body: bytes) -> HealthReading:
    """A 2xx answer is healthy unless its JSON says otherwise: a ``status`` that is not one of
    the healthy words, or a ``checks`` entry that is not. Anything else is failing."""
    document = _json_object(body)
    failing = _failing_checks(document.get("checks")) if document else []
    status = document.get("status") if document else None
    status_ok = status is None or _healthy(status)
    ok = 200 <= status_code < 300 and status_ok and not failing
    said = f" {status}" if isinstance(status, str) else ""
    more = f": {', '.join(failing)}" if failing else ""
    return HealthReading(ok, f"{status_code}{said}{more}"[:DETAIL_MAX], status_code)


def _json_object(body: bytes) -> Mapping[str, object] | None:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _failing_checks(checks: object) -> list[str]:
    """``{"database": "ok", "cache": "down"}`` or ``{"database": {"status": "down"}}`` →
    ["cache=down"]."""
    if not isinstance(checks, Mapping):
        return []
    failing = []
    for name, result in checks.items():
        state = result.get("status") if isinstance(result, Mapping) else result
        if not _healthy(state):
            failing.append(f"{name}={state}")
    return failing


def _healthy(state: object) -> bool:
    if isinstance(state, bool):
        return state
    return isinstance(state, str) and state.strip().lower() in HEALTHY_WORDS


def health_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be probed, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"health_url must be an http or https URL, not '{url[:60]}'"
    if not parts.hostname:
        return f"health_url names no host: '{url[:60]}'"
    if parts.username or parts.password:
        return "health_url must not carry credentials: the catalog shows it to every reader"
    return None
