"""The evaluation corpus: well formed, big and varied enough, frozen, and kept apart from tuning."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from bench import triage_corpus as corpus

from so1.domain.triage import CAUSES

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
CORPUS = SCENARIOS / "corpus"
HOLDOUT = CORPUS / "holdout.yaml"
TUNING = CORPUS / "tuning.yaml"


@pytest.fixture(scope="module")
def cases() -> dict[str, list[corpus.Case]]:
    return {"holdout": corpus.load(HOLDOUT), "tuning": corpus.load(TUNING)}


def test_sizes_and_every_level(cases: dict[str, list[corpus.Case]]) -> None:
    everything = corpus.load_many([HOLDOUT, TUNING])  # also: ids unique across the files
    assert len(everything) >= 150
    assert len(cases["holdout"]) >= 60
    for part in cases.values():
        assert all(n > 0 for n in corpus.label_counts(part).values()), corpus.label_counts(part)


def test_every_cause_and_vendor_is_represented(cases: dict[str, list[corpus.Case]]) -> None:
    everything = cases["holdout"] + cases["tuning"]
    assert {c.label.cause for c in everything if c.label.cause} == CAUSES
    sources = Counter(c.raw.alert.alert_source for c in everything)
    assert set(sources) >= {"alertmanager", "datadog", "sentry", "pagerduty", "events"}
    vendor_fields = {"title", "message", "body", "annotations", "custom_details"}
    fields = {k for c in everything for k in c.raw.alert.alert_data}
    assert vendor_fields <= fields
    tiers = {s.tier for c in everything for s in c.services}
    assert tiers == {"critical", "high", "medium", "low"}


def test_every_corpus_file_is_well_formed_with_ids_unique_across_files() -> None:
    """The later tuning sets (tuning-2, tuning-3) are not in the draw, but must keep the format."""
    files = sorted(p for p in CORPUS.glob("*.yaml") if p.name != corpus.CATALOGS_FILE)
    assert {p.name for p in files} >= {
        "holdout.yaml",
        "tuning.yaml",
        "tuning-2.yaml",
        "tuning-3.yaml",
    }
    corpus.load_many(files)  # refuses a malformed case or an id used in two files
    for name in ("tuning-2.yaml", "tuning-3.yaml"):
        later = corpus.load(CORPUS / name)
        assert len(later) >= 60
        assert all(n > 0 for n in corpus.label_counts(later).values()), name


def test_the_holdout_and_its_catalogs_are_frozen() -> None:
    """Digests recorded in HOLDOUT.md: a change to the holdout must be deliberate and visible."""
    text = (SCENARIOS / "HOLDOUT.md").read_text(encoding="utf-8")
    for name in ("holdout.yaml", "catalogs.yaml"):
        recorded = re.search(rf"{re.escape(name)} sha256: `([0-9a-f]{{64}})`", text)
        assert recorded, f"HOLDOUT.md records no digest for {name}"
        actual = hashlib.sha256((CORPUS / name).read_bytes()).hexdigest()
        assert actual == recorded.group(1), f"{name} changed; the holdout is frozen"


def test_the_holdout_is_the_recorded_stratified_draw(cases: dict[str, list[corpus.Case]]) -> None:
    drawn = corpus.draw_holdout(cases["holdout"] + cases["tuning"])
    assert drawn == {c.id for c in cases["holdout"]}


def test_the_scenario_harness_does_not_load_the_corpus(cases: dict[str, list[corpus.Case]]) -> None:
    from tests.scenarios import test_scenarios

    harness_ids = {s.id for s in test_scenarios.load_scenarios()}
    assert harness_ids
    corpus_ids = {c.id for part in cases.values() for c in part}
    assert not harness_ids & corpus_ids


def test_draw_is_seeded_and_stratified() -> None:
    raw = _case_dict("x")
    pool = [
        _case(
            dict(
                raw,
                id=f"c{level.lower().replace('_', '')}-{i}",
                expect={"severity": level},
                reason=f"{level}: row",
            )
        )
        for level, n in zip(corpus.LEVELS, (10, 7, 5, 3, 2, 1), strict=True)
        for i in range(n)
    ]
    first = corpus.draw_holdout(pool, seed=7, fraction=0.35)
    assert first == corpus.draw_holdout(pool, seed=7, fraction=0.35)
    assert first != corpus.draw_holdout(pool, seed=8, fraction=0.35)
    per_level = Counter(c.label.severity for c in pool if c.id in first)
    assert per_level == {
        level: math.ceil(n * 0.35)
        for level, n in zip(corpus.LEVELS, (10, 7, 5, 3, 2, 1), strict=True)
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": "a reason without the label"}, "reason must start with 'SEV2: '"),
        ({"expect": {"severity": "SEV2", "also_acceptable": ["SEV4"]}}, "not one level from"),
        ({"expect": {"severity": "SEV2", "cause": "gremlins"}}, "not in the vocabulary"),
        ({"expect": {"severity": "non_incident", "cause": "unknown"}}, "no cause to rank"),
        ({"expect": {"severity": "SEV5"}}, "expect.severity"),
        ({"catalog": "nowhere"}, "unknown catalog 'nowhere'"),
        ({"alert": {"alert_id": "a", "alert_source": "events", "alert_data": {}}}, "service"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_malformed_case_is_refused_by_id_and_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    raw = {**_case_dict("bad-case"), **change}
    path.write_text(
        yaml.safe_dump({"defaults": {"now": "2024-06-04T15:00:00Z"}, "scenarios": [raw]})
    )
    with pytest.raises(corpus.CorpusError, match=re.escape(message)):
        corpus.load(path)


def test_repeated_ids_across_files_are_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        doc = {"defaults": {"now": "2024-06-04T15:00:00Z"}, "scenarios": [_case_dict("same-id")]}
        (tmp_path / name).write_text(yaml.safe_dump(doc))
    with pytest.raises(corpus.CorpusError, match="same-id"):
        corpus.load_many([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def _case_dict(case_id: str) -> dict[str, object]:
    return {
        "id": case_id,
        "source": "written for this test",
        "alert": {
            "alert_id": "a-1",
            "alert_source": "events",
            "alert_data": {"service": "api", "summary": "errors"},
        },
        "expect": {"severity": "SEV2"},
        "reason": "SEV2: degraded performance",
    }


def _case(raw: dict[str, object]) -> corpus.Case:
    model = corpus.CaseIn.model_validate(raw)
    return corpus.Case(model, "test.yaml", model.now or _NOW, ())


_NOW = corpus.Defaults.model_validate({"now": "2024-06-04T15:00:00Z"}).now
