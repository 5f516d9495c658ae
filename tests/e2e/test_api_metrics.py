"""The builtin metrics source: samples pushed to POST /v1/metrics, read back as series,
refused with the field named when wrong, and dropped after the retention period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from so1.services.investigation.metrics import purge_expired

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def push(api: TestClient, *samples: dict[str, object]) -> int:
    response = api.post("/v1/metrics", json={"samples": list(samples)})
    assert response.status_code == 200, response.text
    stored: int = response.json()["stored"]
    return stored


def test_pushed_samples_come_back_as_series(api: TestClient, clock: FixedClock) -> None:
    clock.set(T0 + timedelta(minutes=30))
    rates = [0.3, 0.4, 12.0, 11.5, 0.6]
    push(
        api,
        *[
            {"service": "control-plane-api", "metric": "error_rate", "value": v, "at": at(i)}
            for i, v in enumerate(rates)
        ],
    )
    push(
        api,
        {"service": "control-plane-api", "metric": "db_pool_utilization", "value": 100},
        {"service": "other", "metric": "error_rate", "value": 50, "at": at(1)},
    )
    # the same instant again replaces the value
    push(api, {"service": "control-plane-api", "metric": "error_rate", "value": 0.5, "at": at(4)})

    read = api.get(
        "/v1/metrics",
        params={
            "service": "control-plane-api",
            "start": at(-1),
            "minutes": 60,
            "metric": "error_rate",
        },
    )
    assert read.status_code == 200, read.text
    [series] = read.json()["series"]
    assert series["unit"] == "percent"
    assert [p[1] for p in series["points"]] == [0.3, 0.4, 12.0, 11.5, 0.5]

    thinned = api.get(
        "/v1/metrics",
        params={
            "service": "control-plane-api",
            "start": at(0),
            "end": at(5),
            "step": 120,
            "metric": "error_rate",
        },
    ).json()
    assert [p[1] for p in thinned["series"][0]["points"]] == [0.4, 11.5, 0.5]

    defaults = api.get("/v1/metrics", params={"service": "control-plane-api"}).json()
    by_metric = {s["metric"]: s["points"] for s in defaults["series"]}
    assert set(by_metric) == {"error_rate", "latency_p99_ms", "db_pool_utilization"}
    assert [p[1] for p in by_metric["db_pool_utilization"]] == [100.0]
    assert by_metric["latency_p99_ms"] == []


def test_bad_samples_are_refused_naming_the_field(api: TestClient, clock: FixedClock) -> None:
    clock.set(T0)
    good = {"service": "api", "metric": "error_rate", "value": 1.0}
    unknown = api.post("/v1/metrics", json={"samples": [good, {**good, "metric": "vibes"}]})
    assert unknown.status_code == 422
    assert "samples[1]" in unknown.text and "vibes" in unknown.text
    future = api.post("/v1/metrics", json={"samples": [{**good, "at": at(60)}]})
    assert future.status_code == 422 and "future" in future.text
    nan = api.post(
        "/v1/metrics",
        content=b'{"samples":[{"service":"api","metric":"error_rate","value":NaN}]}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 422
    naive = api.post("/v1/metrics", json={"samples": [{**good, "at": "2024-01-15T14:00:00"}]})
    assert naive.status_code == 422
    bad_service = api.post("/v1/metrics", json={"samples": [{**good, "service": "a b"}]})
    assert bad_service.status_code == 422
    assert api.post("/v1/metrics", json={"samples": []}).status_code == 422
    backwards = api.get("/v1/metrics", params={"service": "api", "start": at(5), "end": at(1)})
    assert backwards.status_code == 422 and "end" in backwards.text
    nothing_stored = api.get("/v1/metrics", params={"service": "api", "start": at(-60)}).json()
    assert all(s["points"] == [] for s in nothing_stored["series"])  # all-or-none


def test_samples_past_retention_are_dropped(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    clock.set(T0 + timedelta(days=8))
    push(
        api,
        {"service": "api", "metric": "cpu", "value": 10, "at": at(0)},
        {"service": "api", "metric": "cpu", "value": 20, "at": at(60 * 24 * 7.5)},
    )
    assert purge_expired(container.uow, container.clock, timedelta(days=7)) == 1
    left = api.get("/v1/metrics", params={"service": "api", "metric": "cpu", "minutes": 10_080})
    assert [p[1] for p in left.json()["series"][0]["points"]] == [20.0]


def test_catalog_keeps_promql_overrides(api: TestClient) -> None:
    body = {"tier": "critical", "metric_queries": {"error_rate": "sum(rate(errs[1m]))"}}
    assert api.put("/v1/services/control-plane-api", json=body).status_code in (200, 201)
    read = api.get("/v1/services/control-plane-api").json()
    assert read["metric_queries"] == {"error_rate": "sum(rate(errs[1m]))"}
    wrong = {"tier": "low", "metric_queries": {"happiness": "up"}}
    refused = api.put("/v1/services/x", json=wrong)
    assert refused.status_code == 422 and "happiness" in refused.text


def test_verification_judges_the_incident_service_since_the_mitigation(
    api: TestClient, container: Container, clock: FixedClock
) -> None:
    from so1.domain.severity import Severity
    from so1.services.incidents.lifecycle import NewIncident, create_incident
    from so1.services.incidents.recording import Actor

    clock.set(T0)
    new = NewIncident("Errors", Severity.SEV2, service="control-plane-api")
    incident = create_incident(container.uow, container.clock, Actor("test"), new)
    url = f"/v1/incidents/{incident.id}/verification"
    early = api.get(url)
    assert early.status_code == 422 and "acted_at" in early.text

    clock.set(T0 + timedelta(minutes=20))
    errors = [12.0] * 10 + [6.0, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    push(
        api,
        *[
            {"service": "control-plane-api", "metric": "error_rate", "value": v, "at": at(i)}
            for i, v in enumerate(errors)
        ],
    )
    push(
        api,
        *[
            {"service": "control-plane-api", "metric": "latency_p99_ms", "value": 320, "at": at(i)}
            for i in range(20)
        ],
    )
    answer = api.get(url, params={"acted_at": at(10)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "effective"
    assert body["stable_for_seconds"] == 9 * 60  # passing since minute 11
    [error_gate, p99_gate, alerts_gate] = body["gates"]
    assert (alerts_gate["gate"], alerts_gate["latest"]) == ("no new alerts firing", 0)
    assert (error_gate["gate"], error_gate["before"], error_gate["latest"]) == (
        "error_rate < 1%",
        12.0,
        0.3,
    )
    assert p99_gate["passing"] is True
    assert api.get("/v1/incidents/INC-20240115-9999/verification").status_code == 404
