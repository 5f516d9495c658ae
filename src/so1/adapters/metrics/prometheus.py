"""Metrics from Prometheus over its HTTP API (``/api/v1/query_range``), one PromQL query per
metric: the catalog entry's ``metric_queries`` or the defaults in domain/metrics.py."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx

from so1.domain.catalog import CatalogService
from so1.domain.metrics import Series, promql
from so1.errors import Unavailable, ValidationFailed

MAX_POINTS = 11_000  # Prometheus refuses ranges of more points than this


class PrometheusMetrics:
    def __init__(
        self,
        base_url: str,
        http: httpx.Client,
        window: str = "1m",
        bearer_token: str | None = None,
    ) -> None:
        """``http``: the client the composition root built (its timeout applies)."""
        self._base = base_url.rstrip("/")
        self._http = http
        self._auth = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        self._window = window

    def series(
        self, service: CatalogService, metric: str, start: datetime, end: datetime, step: int
    ) -> Series:
        try:
            query = promql(metric, service.name, service.metric_queries, self._window)
        except KeyError:
            raise ValidationFailed(f"no query for metric '{metric}'", field="metric") from None
        step = max(step, math.ceil((end - start).total_seconds() / MAX_POINTS), 1)
        params = {"query": query, "start": start.timestamp(), "end": end.timestamp()}
        data = self._get("/api/v1/query_range", params | {"step": step})
        return Series(service.name, metric, _points(data))

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.get(self._base + path, params=params, headers=self._auth)
        except httpx.HTTPError as exc:
            raise Unavailable(f"Prometheus did not answer: {exc}") from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise Unavailable(f"Prometheus answered {response.status_code} without JSON") from None
        if body.get("status") != "success":
            kind, why = body.get("errorType", "error"), body.get("error", response.text[:200])
            raise Unavailable(f"Prometheus refused the query ({kind}): {why}")
        result: dict[str, Any] = body.get("data", {})
        return result


def _points(data: dict[str, Any]) -> list[tuple[datetime, float]]:
    """The first series of a matrix (the queries aggregate to one); NaN points dropped."""
    result = data.get("result") or []
    if not result:
        return []
    points: list[tuple[datetime, float]] = []
    for stamp, raw in result[0].get("values", []):
        value = float(raw)
        if math.isfinite(value):
            points.append((datetime.fromtimestamp(float(stamp), UTC), value))
    return points
