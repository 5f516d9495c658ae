"""Score triage reports against the corpus labels: the figures issue 14 asks for, and the misses.

Each report becomes a level: ``non_incident`` when classified so, else its severity (SEV0-4).
Levels are ordered SEV0 < ... < SEV4 < non_incident, so "within one level" is a distance of
at most 1 (SEV4 and non_incident are neighbours). A case that could not be run counts as a
miss everywhere and has its own column, ``error``, in the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.triage_corpus import LEVELS, Case

ERROR = "error"
BANDS = ((0.5, 0.70), (0.70, 0.85), (0.85, 1.0))  # the confidence bands; top one closed
LOW_CONFIDENCE = 0.70  # the runbook: below 70%, escalate with "investigation required"
INVESTIGATION = "investigation_required"
TARGETS = {  # issue 14, "Done when"
    "severity_exact": 0.90,
    "severity_within_one": 1.0,
    "top_cause": 0.90,
    "band_0.85-1.0": 0.85,
}


@dataclass(frozen=True)
class Outcome:
    """One case and what triage said about it (or why it could not be run)."""

    case: Case
    report: dict[str, Any] | None = None
    error: str | None = None

    @property
    def level(self) -> str:
        if self.report is None:
            return ERROR
        if self.report.get("classification") == "non_incident":
            return "non_incident"
        return str(self.report.get("severity"))

    @property
    def exact(self) -> bool:
        return self.level == self.case.label.severity

    @property
    def acceptable(self) -> bool:
        return self.exact or self.level in self.case.label.also_acceptable

    @property
    def within_one(self) -> bool:
        if self.level not in LEVELS:
            return False
        return abs(LEVELS.index(self.level) - LEVELS.index(self.case.label.severity)) <= 1

    @property
    def incident_ok(self) -> bool:
        return self.level != ERROR and (
            (self.level == "non_incident") == (self.case.label.severity == "non_incident")
        )

    @property
    def top_cause(self) -> str | None:
        hypotheses = (self.report or {}).get("hypotheses") or []
        return str(hypotheses[0].get("cause")) if hypotheses else None

    @property
    def confidence(self) -> float | None:
        value = (self.report or {}).get("confidence")
        return float(value) if isinstance(value, int | float) else None


def ratio(hits: int, total: int) -> dict[str, Any]:
    return {"hits": hits, "total": total, "ratio": round(hits / total, 4) if total else None}


def score(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Every figure, as plain data (the --json output)."""
    n = len(outcomes)
    with_cause = [o for o in outcomes if o.case.label.cause is not None]
    top = [o for o in outcomes if o.case.label.severity in ("SEV0", "SEV1")]
    serious = [o for o in outcomes if o.case.label.severity in ("SEV0", "SEV1", "SEV2")]
    low = [o for o in outcomes if o.confidence is not None and o.confidence < LOW_CONFIDENCE]
    return {
        "cases": n,
        "errors": sum(o.level == ERROR for o in outcomes),
        "severity_exact": ratio(sum(o.exact for o in outcomes), n),
        "severity_acceptable": ratio(sum(o.acceptable for o in outcomes), n),
        "severity_within_one": ratio(sum(o.within_one for o in outcomes), n),
        "incident_or_not": ratio(sum(o.incident_ok for o in outcomes), n),
        "top_cause": ratio(
            sum(o.top_cause == o.case.label.cause for o in with_cause), len(with_cause)
        ),
        "sev0_1_came_out_sev0_1": ratio(sum(o.level in ("SEV0", "SEV1") for o in top), len(top)),
        "sev0_2_came_out_non_incident": sum(o.level == "non_incident" for o in serious),
        "confusion": confusion(outcomes),
        "calibration": calibration(outcomes),
        "below_0.70_investigation_required": ratio(
            sum((o.report or {}).get("status") == INVESTIGATION for o in low), len(low)
        ),
    }


def confusion(outcomes: Sequence[Outcome]) -> dict[str, dict[str, int]]:
    """Rows: the label; columns: what triage said (plus ``error``)."""
    columns = (*LEVELS, ERROR)
    matrix = {label: dict.fromkeys(columns, 0) for label in LEVELS}
    for o in outcomes:
        matrix[o.case.label.severity][o.level if o.level in columns else ERROR] += 1
    return matrix


def calibration(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Exact severity accuracy per confidence band; reports under 0.5 get a band of their own."""
    bands: dict[str, dict[str, Any]] = {}
    rated = [o for o in outcomes if o.confidence is not None]
    below = [o for o in rated if o.confidence is not None and o.confidence < BANDS[0][0]]
    if below:
        bands["0.0-0.5"] = ratio(sum(o.exact for o in below), len(below))
    for low, high in BANDS:
        inside = [o for o in rated if _in_band(o.confidence, low, high)]
        bands[f"{low}-{high}"] = ratio(sum(o.exact for o in inside), len(inside))
    return bands


def _in_band(confidence: float | None, low: float, high: float) -> bool:
    if confidence is None:
        return False
    return low <= confidence < high or (high == BANDS[-1][1] and confidence == high)


def checks(figures: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(figure, value, target, met) for each "Done when" line the figures can answer."""
    rows: list[tuple[str, str, str, bool]] = []
    for key in ("severity_exact", "severity_within_one", "top_cause"):
        value = figures[key]["ratio"]
        rows.append(
            (key, _pct(figures[key]), f">= {TARGETS[key]:.0%}", _at_least(value, TARGETS[key]))
        )
    kept = figures["sev0_1_came_out_sev0_1"]
    rows.append(
        ("every SEV0/SEV1 came out SEV0-1", _pct(kept), "all", kept["hits"] == kept["total"])
    )
    closed = figures["sev0_2_came_out_non_incident"]
    rows.append(("SEV0-2 cases that came out non_incident", str(closed), "0", closed == 0))
    top_band = figures["calibration"][f"{BANDS[-1][0]}-{BANDS[-1][1]}"]
    target = TARGETS["band_0.85-1.0"]
    met = top_band["total"] == 0 or _at_least(top_band["ratio"], target)
    rows.append(("accuracy at confidence >= 0.85", _pct(top_band), f">= {target:.0%}", met))
    low = figures["below_0.70_investigation_required"]
    rows.append(
        (
            "below 0.70 with status investigation_required",
            _pct(low),
            "all",
            low["hits"] == low["total"],
        )
    )
    return rows


def _at_least(value: float | None, target: float) -> bool:
    return value is not None and value >= target


def _pct(r: dict[str, Any]) -> str:
    if not r["total"]:
        return "n/a (0 cases)"
    return f"{r['hits']}/{r['total']} ({r['ratio']:.1%})"
