"""Every vendor text field reaches triage (issue 14): for each source, the vendor's own
reference payload with a data-loss phrase in one field at a time, parsed by the source's
adapter, stored as intake stores it and triaged; the report must be SEV0 for data loss and
quote that field. No database, no network (the HTTP paths are in
tests/e2e/test_triage_vendor_text.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from so1.adapters.sources.alertmanager import AlertmanagerAdapter
from so1.adapters.sources.base import InboundRequest, SourceAdapter
from so1.adapters.sources.datadog import DatadogAdapter
from so1.adapters.sources.pagerduty_events import parse_enqueue
from so1.adapters.sources.pagerduty_webhooks import PagerDutyWebhooksAdapter
from so1.adapters.sources.sentry import SentryAdapter
from so1.agents.triage import TriageInput, TriageResponder
from so1.domain.alerts import AlertEvent
from so1.domain.catalog import CatalogService, Tier
from so1.domain.severity import Severity
from so1.domain.triage import Classification
from tests.contract import payload
from tests.triage_inputs import stored

NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
PHRASE = "orders table lost 3,000 rows"


def _payload(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(payload(name))
    return found


def _put(document: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return changed


def _through(adapter: SourceAdapter, headers: dict[str, str]) -> Callable[[bytes], AlertEvent]:
    def parse(body: bytes) -> AlertEvent:
        request = InboundRequest({k.lower(): v for k, v in headers.items()}, body, NOW)
        return adapter.parse(request).events[0]

    return parse


SOURCES: dict[str, tuple[str, Callable[[bytes], AlertEvent]]] = {
    "sentry issue": (
        "sentry/01-issue-created.json",
        _through(SentryAdapter(), {"Sentry-Hook-Resource": "issue"}),
    ),
    "sentry event alert": (
        "sentry/02-event-alert-triggered.json",
        _through(SentryAdapter(), {"Sentry-Hook-Resource": "event_alert"}),
    ),
    "sentry metric alert": (
        "sentry/08-metric-alert-critical.example-app-mock.json",
        _through(SentryAdapter(), {"Sentry-Hook-Resource": "metric_alert"}),
    ),
    "datadog": (
        "datadog/05-incident-template-ilert.SUBSTITUTED-triggered.json",
        _through(DatadogAdapter(), {"Content-Type": "application/json"}),
    ),
    "alertmanager": (
        "alertmanager/01-firing-single-alert-am0.21.0-raw.json",
        _through(AlertmanagerAdapter(), {"Content-Type": "application/json"}),
    ),
    "pagerduty events": (
        "pagerduty-events-v2/01-trigger-full-openapi.json",
        lambda body: parse_enqueue(body).event,
    ),
    "pagerduty webhooks": (
        "pagerduty-webhooks-v3/01-incident-triggered.json",
        _through(PagerDutyWebhooksAdapter(), {"Content-Type": "application/json"}),
    ),
}
# (source, where the phrase goes in the payload, how triage names the field)
FIELDS = [
    ("sentry issue", "data.issue.title", ""),
    ("sentry issue", "data.issue.culprit", "culprit="),
    ("sentry issue", "data.issue.metadata.value", "metadata.value="),
    ("sentry event alert", "data.event.title", ""),
    ("sentry event alert", "data.event.message", "message="),
    ("sentry event alert", "data.event.culprit", "culprit="),
    ("sentry event alert", "data.event.metadata.value", "metadata.value="),
    ("sentry metric alert", "data.description_title", ""),
    ("sentry metric alert", "data.description_text", "description="),
    ("datadog", "title", ""),
    ("datadog", "body", "body="),
    ("datadog", "text", "text="),
    ("datadog", "custom_note", "custom_note="),
    ("alertmanager", "alerts.0.annotations.summary", ""),
    ("alertmanager", "alerts.0.annotations.description", "annotations.description="),
    ("alertmanager", "alerts.0.annotations.note", "annotations.note="),
    ("pagerduty events", "payload.summary", ""),
    ("pagerduty events", "payload.custom_details.what", "custom_details.what="),
    ("pagerduty webhooks", "event.data.title", ""),
]


def _place(document: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    if path.startswith("alerts.0."):  # Alertmanager: the first alert of the group
        changed = copy.deepcopy(document)
        changed["alerts"][0] = _put(changed["alerts"][0], path.removeprefix("alerts.0."), value)
        return changed
    return _put(document, path, value)


@pytest.mark.parametrize(
    ("source", "path", "named"), FIELDS, ids=[f"{s}:{p}" for s, p, _ in FIELDS]
)
def test_each_vendor_text_field_reaches_triage(source: str, path: str, named: str) -> None:
    name, parse = SOURCES[source]
    marker = path.rsplit(".", 1)[-1]
    body = _place(_payload(name), path, f"{marker}: {PHRASE}")
    event = parse(json.dumps(body).encode())
    alert = stored(event, NOW)
    service = CatalogService(alert.service or "unnamed", Tier.HIGH)
    report = TriageResponder().run(TriageInput(alert, NOW, services=(service,)))
    assert report.classification is Classification.INCIDENT
    assert report.severity is Severity.SEV0, report.rationale
    first = report.rationale[0]
    assert first.startswith("impact class data_loss"), first
    assert f"{named}{marker}: {PHRASE}" in first, first


def test_a_key_triage_does_not_know_is_kept_and_searched() -> None:
    name, parse = SOURCES["datadog"]
    body = _put(_payload(name), "deep", "x")
    body["deep"] = {"nested": [{"note": f"and then {PHRASE}"}]}
    event = parse(json.dumps(body).encode())
    assert event.details["deep"] == {"nested": [{"note": f"and then {PHRASE}"}]}
    report = TriageResponder().run(TriageInput(stored(event, NOW), NOW))
    assert "deep.nested[0].note=and then orders table lost" in report.rationale[0]


def test_long_fields_are_cut_and_the_rationale_says_so() -> None:
    name, parse = SOURCES["pagerduty events"]
    body = _put(_payload(name), "payload.custom_details.log", "x " * 10_000 + PHRASE)
    event = parse(json.dumps(body).encode())
    report = TriageResponder().run(TriageInput(stored(event, NOW), NOW))
    cut = [line for line in report.rationale if line.startswith("text cut:")]
    assert cut == ["text cut: custom_details.log has 20028 characters; read the first 8192"]
    assert report.severity is not Severity.SEV0  # the phrase was past the cut
