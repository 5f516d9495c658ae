"""bench/triage_split.py: the tuning set split into fit and check parts, seeded and stratified."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench import triage_corpus as corpus, triage_split as split

TUNING = Path(__file__).resolve().parents[1] / "scenarios" / "corpus" / "tuning.yaml"


def test_the_parts_cover_the_tuning_set_once_each_label_a_third_in_check(tmp_path: Path) -> None:
    fit_path, check_path = split.write_parts(tmp_path, split.SEED, split.FRACTION)
    fit, check = corpus.load(fit_path), corpus.load(check_path)
    tuning = corpus.load(TUNING)
    assert sorted(c.id for c in fit + check) == sorted(c.id for c in tuning)
    assert not {c.id for c in fit} & {c.id for c in check}
    per_label = corpus.label_counts(tuning)
    drawn = Counter(c.label.severity for c in check)
    assert drawn == {level: round(n / 3) for level, n in per_label.items() if round(n / 3)}


def test_the_draw_is_seeded(tmp_path: Path) -> None:
    first = {c.id for c in corpus.load(split.write_parts(tmp_path / "a", 7, 0.3)[1])}
    again = {c.id for c in corpus.load(split.write_parts(tmp_path / "b", 7, 0.3)[1])}
    other = {c.id for c in corpus.load(split.write_parts(tmp_path / "c", 8, 0.3)[1])}
    assert first == again
    assert first != other
