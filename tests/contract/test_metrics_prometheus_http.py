"""The Prometheus adapter against httpx.MockTransport answering as Prometheus's HTTP API
does (``GET /api/v1/query_range``: a ``matrix`` of ``[unix seconds, "value"]`` pairs, or
``{"status": "error", "errorType", "error"}`` with a 4xx). Fast, without a server; the real
Prometheus in test_metrics_prometheus.py checks the PromQL itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from so1.adapters.metrics.prometheus import MAX_POINTS, PrometheusMetrics
from so1.domain.catalog import CatalogService, Tier
from so1.errors import Unavailable

SERVICE = CatalogService("control-plane-api", Tier.CRITICAL)
START = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
END = START + timedelta(minutes=2)


class Prometheus:
    """Answers query_range with ``values`` and remembers each request."""

    def __init__(self, values: list[list[object]], status: int = 200) -> None:
        self.values, self.status = values, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/prom/api/v1/query_range":
            return httpx.Response(404, text="404 page not found")
        if self.status != 200:
            error = {"status": "error", "errorType": "bad_data", "error": "parse error"}
            return httpx.Response(self.status, json=error)
        series = {"metric": {"service": SERVICE.name}, "values": self.values}
        data = {"resultType": "matrix", "result": [series] if self.values else []}
        return httpx.Response(200, json={"status": "success", "data": data})


def metrics_on(api: Prometheus, token: str | None = None) -> PrometheusMetrics:
    client = httpx.Client(transport=httpx.MockTransport(api))
    return PrometheusMetrics("http://prometheus.test/prom/", client, "1m", token)


def test_a_matrix_is_read_into_points_without_the_nan_ones() -> None:
    stamp = START.timestamp()
    api = Prometheus([[stamp, "12.5"], [stamp + 60, "NaN"], [stamp + 120, "0.4"]])

    series = metrics_on(api, token="t0k").series(SERVICE, "error_rate", START, END, 30)

    assert series.points == [(START, 12.5), (END, 0.4)]
    [request] = api.requests
    assert request.headers["Authorization"] == "Bearer t0k"
    params = request.url.params
    assert (params["start"], params["end"], params["step"]) == (
        str(START.timestamp()),
        str(END.timestamp()),
        "30",
    )
    assert SERVICE.name in params["query"]


def test_a_long_range_asks_for_fewer_points_than_prometheus_allows() -> None:
    api = Prometheus([])
    end = START + timedelta(days=30)
    assert metrics_on(api).series(SERVICE, "error_rate", START, end, 1).points == []
    step = int(api.requests[0].url.params["step"])
    assert (end - START).total_seconds() / step <= MAX_POINTS


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        (Prometheus([], status=400), r"refused the query \(bad_data\): parse error"),
        (Prometheus([], status=503), "refused the query"),
    ],
)
def test_an_error_answer_is_unavailable_naming_prometheus_reason(
    answer: Prometheus, refusal: str
) -> None:
    with pytest.raises(Unavailable, match=refusal):
        metrics_on(answer).series(SERVICE, "error_rate", START, END, 30)


def test_an_answer_that_is_not_json_is_unavailable() -> None:
    def proxy_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    client = httpx.Client(transport=httpx.MockTransport(proxy_page))
    metrics = PrometheusMetrics("http://prometheus.test", client)
    with pytest.raises(Unavailable, match="answered 502 without JSON"):
        metrics.series(SERVICE, "error_rate", START, END, 30)
