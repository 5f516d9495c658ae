"""Property-based fuzzing of every operation in the OpenAPI schema: no input may cause a 5xx.

Schemathesis generates requests from the app's own schema (valid and invalid ones);
the only check is that the answer is never a server error.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import not_a_server_error

from so1.bootstrap import Container
from so1.domain.alerts import AlertSource
from so1.services.incidents.recording import Actor
from so1.services.intake.integrations import add_integration

# CI runs a quick pass; SO1_FUZZ_EXAMPLES=500 makes a long local hunt.
EXAMPLES_PER_OPERATION = int(os.environ.get("SO1_FUZZ_EXAMPLES", "25"))


def test_no_input_causes_a_server_error(api: TestClient, admin_token: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        call()


# --- deep nesting and big numbers -------------------------------------------------------------
# Schemathesis draws bodies from the schema, where free-form JSON is "any object": it rarely
# tries hundreds of levels or numbers past the double range. These generators plant such
# values in the bodies it draws (bodies sent with Python's json, which writes NaN and Infinity
# as senders do), and in the intake routes that read their bodies themselves.
HOSTILE_EXAMPLES = int(os.environ.get("SO1_FUZZ_HOSTILE_EXAMPLES", "8"))
EDGE_NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1.7976931348623157e308,
    5e-324,
    2**63,
    -(2**63) - 1,
    2**64,
    10**300,
    -(10**1000),
]
LEAVES = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.none(),
)


def nested(levels: int, leaf: object, kind: str) -> object:
    value = leaf
    for _ in range(levels):
        value = {"a": value} if kind == "object" else [value]
    return value


DEPTHS = st.sampled_from([33, 100, 300, 700, 990, 1500]) | st.integers(1, 1500)
HOSTILE = st.one_of(
    st.builds(nested, DEPTHS, LEAVES | st.just({}), st.sampled_from(["object", "array"])),
    st.recursive(
        LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=12,
    ),
)


def planted(body: object, value: object, data: st.DataObject) -> object:
    """``body`` with ``value`` at one of its fields, a free-form one (an object) when there
    is one, sometimes one level down."""
    if not isinstance(body, dict) or not body:
        return value
    free_form = sorted(k for k, v in body.items() if isinstance(v, dict))
    key = data.draw(st.sampled_from(free_form or sorted(body)))
    inner = body[key]
    if isinstance(inner, dict) and inner and data.draw(st.booleans()):
        inner[data.draw(st.sampled_from(sorted(inner)))] = value
    else:
        body[key] = value
    return body


def send(api: TestClient, method: str, path: str, body: object, **extra: Any) -> int:
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    return api.request(method, path, content=content, headers=headers, **extra).status_code


def test_deep_nesting_and_big_numbers_never_cause_a_server_error(
    api: TestClient, container: Container
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().body]  # type: ignore[union-attr]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy(), value=HOSTILE, data=st.data())
        @settings(
            max_examples=HOSTILE_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any, value: object, data: st.DataObject) -> None:
            body = planted(case.body, value, data)
            path = case.formatted_path
            status = send(api, case.method, path, body, params=case.query)
            assert status < 500, (case.method, path, status)

        call()
    every_list_reads(api, schema)

    key = "e93facc04764012d7bfb002500d5d1a6"
    add_integration(container.uow, container.clock, Actor("t"), AlertSource.EVENTS, "e", key)
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "info"},
    }

    @given(value=HOSTILE, path=st.sampled_from(["/v2/enqueue", "/v2/change/enqueue"]))
    @settings(max_examples=HOSTILE_EXAMPLES * 4, deadline=None, database=None)
    def enqueue(value: object, path: str) -> None:
        body = {**event, "payload": {**event["payload"], "custom_details": value}}  # type: ignore[dict-item]
        assert send(api, "POST", path, body) < 500

    enqueue()
    every_list_reads(api, schema)


def every_list_reads(api: TestClient, schema: Any) -> None:
    """Whatever the hostile requests managed to store, every list still reads."""
    lists = [
        r.ok().path
        for r in schema.get_all_operations()
        if r.ok().method == "get" and "{" not in r.ok().path
    ]
    assert len(lists) >= 20
    failing = [(path, code) for path in lists if (code := api.get(path).status_code) >= 500]
    assert failing == []
