"""The triage-responder's request at the HTTP edge: the seed's JSON validated once into the
types the service takes; a bad field is a ValidationFailed (422) naming it, unknown keys of
``alert_data`` are kept in the details (pure, no I/O)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from so1.domain.alerts import AlertSource, SeverityHint
from so1.entrypoints.api.triage_schemas import triage_request
from so1.errors import ValidationFailed

SEED: dict[str, Any] = {
    "alert_id": "pd-alert-123",
    "alert_source": "pagerduty",
    "alert_data": {
        "service": "so1-control-plane-api",
        "metric": "error_rate",
        "current_value": "12%",
        "threshold": "< 1%",
    },
}


def test_seed_request_becomes_an_events_alert() -> None:
    request = triage_request(copy.deepcopy(SEED))
    event = request.event
    assert request.alert_id == event.dedup_key == "pd-alert-123"
    assert event.source is AlertSource.EVENTS
    assert (event.service, event.metric, event.current_value, event.threshold) == (
        "so1-control-plane-api",
        "error_rate",
        "12%",
        "< 1%",
    )
    assert event.labels == {"origin": "pagerduty"}
    assert event.summary == "error_rate 12% (threshold < 1%) on so1-control-plane-api"
    assert event.details == {}


def test_unknown_keys_are_kept_in_the_details() -> None:
    data = {
        "service": "ledger",
        "metric": "errors",
        "current_value": 40,
        "threshold": 0,
        "message": "Customer balances overwritten by a bad backfill",
        "annotations": {"description": "runbook: ledger"},
        "severity_hint": "critical",
        "details": {"job": "backfill-17"},
        "team": "payments",
    }
    event = triage_request({"alert_id": "x-1", "alert_data": data}).event
    assert event.summary == "Customer balances overwritten by a bad backfill"
    assert event.details == {
        "job": "backfill-17",
        "message": "Customer balances overwritten by a bad backfill",
        "annotations": {"description": "runbook: ledger"},
        "team": "payments",
    }
    assert (event.current_value, event.threshold) == ("40", "0")
    assert event.severity_hint is SeverityHint.CRITICAL
    assert event.labels == {"origin": "orchestrate"}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(inputs: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = inputs
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.pop(key)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_drop("alert_id"), "inputs.alert_id"),
        (_set("alert_id", ""), "inputs.alert_id"),
        (_set("alert_source", 7), "inputs.alert_source"),
        (_drop("alert_data"), "inputs.alert_data"),
        (_set("alert_data", "error"), "inputs.alert_data"),
        (_set("alert_data.service", ""), "inputs.alert_data.service"),
        (_set("alert_data.current_value", ["12%"]), "inputs.alert_data.current_value"),
        (_set("alert_data.severity_hint", "urgent"), "inputs.alert_data.severity_hint"),
        (_set("alert_data.labels", {"region": ["eu"]}), "inputs.alert_data.labels.region"),
        (_set("alert_data.details", "none"), "inputs.alert_data.details"),
        (_set("context", {"now": "2024-01-15T14:45:00Z"}), "inputs.context"),
    ],
)
def test_bad_input_names_the_field(mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    inputs = copy.deepcopy(SEED)
    mutate(inputs)
    with pytest.raises(ValidationFailed) as caught:
        triage_request(inputs)
    assert caught.value.field is not None
    assert caught.value.field.startswith(field), caught.value.field
