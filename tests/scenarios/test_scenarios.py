"""Run every labelled triage scenario and hold the triage-responder to its accuracy targets.

Each YAML file (except catalogs.yaml) has ``defaults`` (catalog name, now) and ``scenarios``:
an alert, its context (deployments, flag changes, related alerts, optional catalog or
services) and the acceptable answers (``expect``: severities, top causes, non_incident).
Misses are printed with what was expected, what came out and the report's rationale.
Labels come from the runbook; when a scenario fails, fix the knowledge or the scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from so1.agents.triage.agent import TriageResponder
from so1.domain.triage import CAUSES
from tests.triage_inputs import triage_input

HERE = Path(__file__).parent
SEVERITY_TARGET = 0.90
CAUSE_TARGET = 0.85
CONFIDENT = 0.85  # reports this sure must be right at least CONFIDENT_TARGET of the time
CONFIDENT_TARGET = 0.85
FLOOR = 0.70  # below it the runbook escalates with "investigation required"
MIN_SCENARIOS = 40
SEVERITIES = {"SEV0", "SEV1", "SEV2", "SEV3", "SEV4"}


@dataclass(frozen=True)
class Scenario:
    id: str
    file: str
    inputs: dict[str, Any]
    severities: tuple[str, ...]
    causes: tuple[str, ...]
    non_incident: bool


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    report: dict[str, Any]

    @property
    def top_cause(self) -> str | None:
        hypotheses: list[dict[str, Any]] = self.report["hypotheses"]
        return str(hypotheses[0]["cause"]) if hypotheses else None

    @property
    def classification_ok(self) -> bool:
        got_non: bool = self.report["classification"] == "non_incident"
        return got_non == self.scenario.non_incident

    @property
    def severity_ok(self) -> bool:
        if self.scenario.non_incident:
            return self.classification_ok and self.report["severity"] is None
        return self.classification_ok and bool(self.report["severity"] in self.scenario.severities)

    @property
    def cause_ok(self) -> bool:
        return self.top_cause in self.scenario.causes


def load_scenarios() -> list[Scenario]:
    catalogs = yaml.safe_load((HERE / "catalogs.yaml").read_text(encoding="utf-8"))
    scenarios: list[Scenario] = []
    for path in sorted(HERE.glob("*.yaml")):
        if path.name == "catalogs.yaml":
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        defaults = doc.get("defaults", {})
        scenarios.extend(_scenario(raw, defaults, catalogs, path.name) for raw in doc["scenarios"])
    return scenarios


def _scenario(
    raw: dict[str, Any], defaults: dict[str, Any], catalogs: dict[str, Any], file: str
) -> Scenario:
    catalog = raw.get("catalog", defaults.get("catalog"))
    context: dict[str, Any] = {
        "now": raw.get("now", defaults.get("now")),
        "services": raw.get("services", catalogs[catalog] if catalog else []),
        "deployments": raw.get("deployments", []),
        "flag_changes": raw.get("flag_changes", []),
        "related_alerts": raw.get("related_alerts", []),
    }
    if "incident_id" in raw:
        context["incident_id"] = raw["incident_id"]
    expect = raw["expect"]
    return Scenario(
        id=raw["id"],
        file=file,
        inputs={**raw["alert"], "context": context},
        severities=tuple(expect.get("severities", ())),
        causes=tuple(expect.get("causes", ())),
        non_incident=bool(expect.get("non_incident", False)),
    )


SCENARIOS = load_scenarios()


def run_all() -> list[Outcome]:
    agent = TriageResponder()
    return [Outcome(s, agent.run(triage_input(s.inputs)).as_json()) for s in SCENARIOS]


def _miss_line(outcome: Outcome, what: str) -> str:
    s, r = outcome.scenario, outcome.report
    expected = (
        "non_incident"
        if s.non_incident
        else f"severity {list(s.severities)}, cause {list(s.causes)}"
    )
    got = (
        f"{r['classification']} {r['severity']}, cause {outcome.top_cause}, "
        f"confidence {r['confidence']}"
    )
    reasons = "\n      ".join(r.get("rationale", []))
    return (
        f"MISS {what} {s.file}:{s.id}\n    expected {expected}\n    got      {got}\n      {reasons}"
    )


def test_labels_are_well_formed() -> None:
    ids = [s.id for s in SCENARIOS]
    assert len(ids) >= MIN_SCENARIOS
    assert len(ids) == len(set(ids)), "scenario ids must be unique"
    for s in SCENARIOS:
        if s.non_incident:
            assert not s.severities, s.id
        else:
            assert s.severities and set(s.severities) <= SEVERITIES, s.id
            assert s.causes and set(s.causes) <= CAUSES, s.id


def test_accuracy_targets() -> None:
    outcomes = run_all()
    incidents = [o for o in outcomes if not o.scenario.non_incident]
    severity_hits = sum(o.severity_ok for o in outcomes)
    cause_hits = sum(o.cause_ok for o in incidents)
    for o in outcomes:
        if not o.severity_ok:
            print(_miss_line(o, "severity"))
        if not o.scenario.non_incident and not o.cause_ok:
            print(_miss_line(o, "cause"))
    severity_accuracy = severity_hits / len(outcomes)
    cause_accuracy = cause_hits / len(incidents)
    print(
        f"\n{len(outcomes)} scenarios: severity {severity_hits}/{len(outcomes)} "
        f"({severity_accuracy:.1%}), top cause {cause_hits}/{len(incidents)} ({cause_accuracy:.1%})"
    )
    wrong_class = [o.scenario.id for o in outcomes if not o.classification_ok]
    assert not wrong_class, f"incident / non-incident wrong for {wrong_class}"
    assert severity_accuracy >= SEVERITY_TARGET
    assert cause_accuracy >= CAUSE_TARGET


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.non_incident], ids=lambda s: s.id)
def test_non_incidents_close(scenario: Scenario) -> None:
    report = TriageResponder().run(triage_input(scenario.inputs)).as_json()
    assert report["classification"] == "non_incident"
    assert report["severity"] is None
    assert report["escalation"] == "close"


def test_calibration() -> None:
    """Confidence means something: reports at 0.85 or more are right (severity, and top cause
    for an incident) at least 85% of the time; below 0.70 the status says investigation
    required. Prints the accuracy in each confidence band."""
    outcomes = run_all()
    bands: dict[str, list[bool]] = {"0-0.7": [], "0.7-0.85": [], "0.85-1.0": []}
    for o in outcomes:
        right = o.severity_ok and (o.scenario.non_incident or o.cause_ok)
        score = o.report["confidence"]
        band = "0-0.7" if score < FLOOR else "0.7-0.85" if score < CONFIDENT else "0.85-1.0"
        bands[band].append(right)
        wanted = "investigation_required" if score < FLOOR else "completed"
        assert o.report["status"] == wanted, o.scenario.id
    for band, rights in bands.items():
        shown = f"{sum(rights) / len(rights):.0%}" if rights else "-"
        print(f"confidence {band}: {len(rights)} reports, {shown} right")
    confident = bands["0.85-1.0"]
    assert confident and sum(confident) / len(confident) >= CONFIDENT_TARGET
