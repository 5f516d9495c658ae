"""No 500 from input: free-form JSON nested too deep, too big, or holding NaN, Infinity or an
out-of-range number gets a 4xx naming the field on every intake route, the same on SQLite and
PostgreSQL; and rows stored before the limits (300 levels deep) still read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.alerts import AlertAction, AlertEvent, AlertSource
from so1.domain.json_limits import FOLD_DEPTH, MAX_DEPTH
from so1.services.incidents.recording import Actor
from so1.services.intake import integrations
from tests.e2e.test_intake_bad_input import SENTRY_BODY, senders, sentry_headers  # noqa: F401

PD_KEY = "e93facc04764012d7bfb002500d5d1a6"


def deep_text(levels: int, leaf: str = "{}") -> str:
    """``{"a": {"a": ... leaf}}`` as JSON text, ``levels`` objects deep (``{}`` is one)."""
    return '{"a":' * (levels - 1) + leaf + "}" * (levels - 1)


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def depth_of(value: Any) -> int:
    levels = 0
    while isinstance(value, dict) and value:
        value, levels = value["a"], levels + 1
    return levels + (1 if value == {} else 0)


def alert_body(details: str) -> bytes:
    return (
        b'{"event_action":"trigger","source":"t","summary":"s","details":' + details.encode() + b"}"
    )


def enqueue_body(custom_details: str, path: str = "/v2/enqueue") -> bytes:
    action = '"event_action":"trigger",' if path == "/v2/enqueue" else ""
    return (
        f'{{"routing_key":"{PD_KEY}",{action}"payload":{{"summary":"s","source":"x",'
        f'"severity":"info","custom_details":{custom_details}}}}}'
    ).encode()


def sentry_body(status_details: str) -> bytes:
    document = json.loads(SENTRY_BODY)
    document["data"]["issue"]["statusDetails"] = "@@"
    return json.dumps(document).replace('"@@"', status_details).encode()


@pytest.fixture
def intake(senders: TestClient, container: Container) -> TestClient:  # noqa: F811
    integrations.add_integration(
        container.uow, container.clock, Actor("t"), AlertSource.EVENTS, "events", PD_KEY
    )
    return senders


def post(api: TestClient, path: str, body: bytes) -> Any:
    headers = {"content-type": "application/json"}
    if path.endswith("/sentry"):
        headers |= sentry_headers(body)
    return api.post(path, content=body, headers=headers)


ROUTES: dict[str, tuple[Callable[[str], bytes], int, str]] = {
    "/v1/alerts": (alert_body, 422, "details"),
    "/v2/enqueue": (enqueue_body, 400, "payload.custom_details"),
    "/v2/change/enqueue": (lambda d: enqueue_body(d, "/v2/change/enqueue"), 400, "custom_details"),
    "/v1/webhooks/sentry": (sentry_body, 422, "details.status_details"),
}


def assert_named_4xx(response: Any, status: int, field: str, problem: str) -> None:
    assert response.status_code == status, response.text
    said = json.dumps(response.json())
    assert field in said and problem in said, said


@pytest.mark.parametrize("path", ROUTES)
def test_too_deep_json_is_a_4xx_naming_the_field(intake: TestClient, path: str) -> None:
    build, status, field = ROUTES[path]
    for levels in (MAX_DEPTH + 1, 700):
        response = post(intake, path, build(deep_text(levels)))
        assert_named_4xx(response, status, field, f"nests deeper than {MAX_DEPTH} levels")
    beyond_the_parser = post(intake, path, build(deep_text(5000)))  # past json's recursion
    assert 400 <= beyond_the_parser.status_code < 500, beyond_the_parser.text
    assert intake.get("/v1/alerts").json()["total"] == 0
    assert intake.get("/v1/deployments/recent?hours=1").json()["deployments"] == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("path", ROUTES)
def test_non_finite_numbers_are_the_same_4xx_on_both_engines(
    intake: TestClient, path: str, number: str
) -> None:
    build, status, field = ROUTES[path]
    response = post(intake, path, build(f'{{"x":{number}}}'))
    assert_named_4xx(response, status, field, "is not a finite number")
    assert intake.get("/v1/alerts").json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/incidents", '{"title":"t","severity":"SEV2","impact":{"users":NaN}}', "impact"),
        (
            "/v1/alerts",
            '{"event_action":"trigger","source":"t","summary":"s","current_value":Infinity}',
            "current_value",
        ),
        (
            "/v1/metrics",
            '{"samples":[{"service":"api","metric":"error_rate","value":1e400}]}',
            "samples",
        ),
        ("/v1/services/api", '{"tier":"critical","baselines":' + deep_text(40) + "}", "baselines"),
        ("/v1/deployments", '{"service":"api","version":"v1","config":{"x":NaN}}', "config"),
    ],
)
def test_every_free_form_field_of_the_api_is_held_to_the_limits(
    api: TestClient, path: str, body: str, field: str
) -> None:
    method = api.put if path.startswith("/v1/services") else api.post
    response = method(path, content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert f"body.{field}" in [e["field"] for e in response.json()["errors"]]


def test_json_bigger_than_the_limit_is_refused(intake: TestClient) -> None:
    big = json.dumps({"log": "x" * 600_000})
    assert_named_4xx(post(intake, "/v1/alerts", alert_body(big)), 422, "details", "KiB")


def test_json_at_the_limits_is_kept_whole(intake: TestClient) -> None:
    details = {"edge": deep(MAX_DEPTH - 1), "big": 10**300, "small": 5e-324, "max": 1.7e308}
    response = post(intake, "/v1/alerts", alert_body(json.dumps(details)))
    assert response.status_code == 202, response.text
    stored = intake.get(f"/v1/alerts/{response.json()['alert_id']}").json()["details"]
    # PostgreSQL keeps JSON numbers as exact decimals: 1.7e308 reads back written out in full
    assert float(stored.pop("max")) == details.pop("max")
    assert stored == details
    assert depth_of(stored["edge"]) == MAX_DEPTH - 1


def test_reads_never_fail_on_a_deep_row_stored_before_the_limits(
    api: TestClient, container: Container
) -> None:
    """300 levels, as the intake used to accept: written straight through the repository."""
    event = AlertEvent(
        AlertSource.EVENTS, AlertAction.TRIGGER, "old", "stored long ago", details=deep(300)
    )
    with container.uow() as uow:
        uow.alerts.trigger(event, "alt_deep", container.clock.now())
        uow.commit()
    listed = api.get("/v1/alerts")
    assert listed.status_code == 200, listed.text
    one = api.get("/v1/alerts/alt_deep")
    assert one.status_code == 200, one.text
    assert listed.json()["items"][0]["details"] == one.json()["details"]
    details = one.json()["details"]
    assert depth_of(details) == FOLD_DEPTH  # the rest is kept, as JSON text
    rest = details
    for _ in range(FOLD_DEPTH - 1):
        rest = rest["a"]
    assert depth_of(json.loads(rest["a"])) == 300 - FOLD_DEPTH


def test_a_body_nested_past_the_parser_is_a_400_where_bodies_are_read_by_hand(
    api: TestClient,
) -> None:
    body = ("[" * 5000 + "]" * 5000).encode()
    response = api.post("/ofrep/v1/evaluate/flags/any", content=body)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "PARSE_ERROR"
