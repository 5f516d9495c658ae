"""The scorer's figures on hand-made reports with known answers, wrong ones included."""

from __future__ import annotations

from typing import Any

import pytest
from bench import triage_corpus as corpus
from bench._triage_score import Outcome, checks, score


def _case(case_id: str, severity: str, also: tuple[str, ...] = (), cause: str | None = None):
    expect: dict[str, Any] = {"severity": severity, "also_acceptable": list(also)}
    if cause:
        expect["cause"] = cause
    raw = corpus.CaseIn.model_validate(
        {
            "id": case_id,
            "source": "written for this test",
            "alert": {
                "alert_id": case_id,
                "alert_source": "events",
                "alert_data": {"service": "api"},
            },
            "expect": expect,
            "reason": f"{severity}: test",
        }
    )
    now = corpus.Defaults.model_validate({"now": "2024-06-04T15:00:00Z"}).now
    return corpus.Case(raw, "test.yaml", now, ())


def _report(severity: str | None, confidence: float, cause: str = "unknown", **extra: Any):
    return {
        "severity": severity,
        "classification": "non_incident" if severity is None else "incident",
        "confidence": confidence,
        "status": "investigation_required" if confidence < 0.70 else "completed",
        "hypotheses": [{"cause": cause, "confidence": 0.5}],
        **extra,
    }


@pytest.fixture
def outcomes() -> list[Outcome]:
    return [
        # right severity, right cause, confident
        Outcome(_case("a", "SEV2", cause="slow_queries"), _report("SEV2", 0.9, "slow_queries")),
        # wrong: a SEV0 breach came out SEV2 with the wrong cause, confidently
        Outcome(_case("b", "SEV0", cause="security_breach"), _report("SEV2", 0.88)),
        # wrong but acceptable and within one: SEV3 (or SEV4) came out SEV4
        Outcome(_case("c", "SEV3", also=("SEV4",)), _report("SEV4", 0.75)),
        # wrong: a SEV1 closed as a non-incident (and so a SEV0-2 closed)
        Outcome(_case("d", "SEV1", cause="deployment_issue"), _report(None, 0.6)),
        # right: a non-incident closed; SEV4 and non_incident are neighbours
        Outcome(_case("e", "non_incident"), _report(None, 0.95)),
        # a SEV4 that came out non_incident: within one, not exact
        Outcome(_case("f", "SEV4"), _report(None, 0.72)),
        # a case that could not be run
        Outcome(_case("g", "SEV2"), error="POST /v1/orchestrate: 500"),
        # a low-confidence report that wrongly says completed
        Outcome(_case("h", "SEV2"), _report("SEV2", 0.55, status="completed")),
    ]


def test_severity_figures(outcomes: list[Outcome]) -> None:
    figures = score(outcomes)
    assert figures["cases"] == 8
    assert figures["errors"] == 1
    assert figures["severity_exact"] == {"hits": 3, "total": 8, "ratio": 0.375}  # a, e, h
    assert figures["severity_acceptable"]["hits"] == 4  # and c
    assert figures["severity_within_one"]["hits"] == 5  # a, c, e, f, h
    assert figures["incident_or_not"]["hits"] == 5  # a, b, c, e, h (d and f wrong, g error)


def test_cause_and_safety_figures(outcomes: list[Outcome]) -> None:
    figures = score(outcomes)
    assert figures["top_cause"] == {"hits": 1, "total": 3, "ratio": 0.3333}
    assert figures["sev0_1_came_out_sev0_1"] == {"hits": 0, "total": 2, "ratio": 0.0}
    assert figures["sev0_2_came_out_non_incident"] == 1


def test_confusion_matrix_rows_are_labels(outcomes: list[Outcome]) -> None:
    matrix = score(outcomes)["confusion"]
    assert matrix["SEV0"]["SEV2"] == 1
    assert matrix["SEV1"]["non_incident"] == 1
    assert matrix["SEV2"]["SEV2"] == 2
    assert matrix["SEV2"]["error"] == 1
    assert matrix["SEV4"]["non_incident"] == 1
    assert sum(sum(row.values()) for row in matrix.values()) == 8


def test_calibration_bands_and_low_confidence_status(outcomes: list[Outcome]) -> None:
    figures = score(outcomes)
    bands = figures["calibration"]
    assert bands["0.5-0.7"] == {"hits": 1, "total": 2, "ratio": 0.5}  # d wrong, h right
    assert bands["0.7-0.85"] == {"hits": 0, "total": 2, "ratio": 0.0}  # c, f
    assert bands["0.85-1.0"] == {"hits": 2, "total": 3, "ratio": 0.6667}  # a, e right; b wrong
    assert figures["below_0.70_investigation_required"] == {"hits": 1, "total": 2, "ratio": 0.5}


def test_a_confidence_of_exactly_one_is_in_the_top_band() -> None:
    figures = score([Outcome(_case("a", "SEV2"), _report("SEV2", 1.0))])
    assert figures["calibration"]["0.85-1.0"]["total"] == 1


def test_checks_say_which_targets_are_met(outcomes: list[Outcome]) -> None:
    met = {name: ok for name, _value, _target, ok in checks(score(outcomes))}
    assert met == {
        "severity_exact": False,
        "severity_within_one": False,
        "top_cause": False,
        "every SEV0/SEV1 came out SEV0-1": False,
        "SEV0-2 cases that came out non_incident": False,
        "accuracy at confidence >= 0.85": False,
        "below 0.70 with status investigation_required": False,
    }
    perfect = [o for o in outcomes if o.case.id in ("a", "e")]
    assert all(ok for *_, ok in checks(score(perfect)))
