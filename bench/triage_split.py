"""Split the tuning set into a "fit" part and a "check" part, seeded and stratified by label.

    .venv/bin/python bench/triage_split.py [--out DIR] [--seed 20261205] [--fraction 0.333]

The holdout (tests/scenarios/HOLDOUT.md) stays untouched: only ``corpus/tuning.yaml`` is read.
For each severity label, ``round(fraction x n)`` ids are sampled from that label's sorted ids
with one ``random.Random(seed)`` (labels in the order SEV0..SEV4, non_incident): those are the
check part, the rest the fit part. Both are written to ``DIR`` (default: a temp folder) as
``fit.yaml`` and ``check.yaml`` with a copy of ``catalogs.yaml`` beside them, so that
``bench/triage_eval.py --file DIR/fit.yaml`` scores them. Tune by reading the fit part's misses
only; keep a change only when the check part does not get worse.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.triage_corpus import LEVELS

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "scenarios" / "corpus"
SEED = 20261205
FRACTION = 1 / 3


def check_ids(scenarios: Sequence[dict[str, Any]], seed: int, fraction: float) -> set[str]:
    """The ids drawn into the check part: per label, a seeded sample of its sorted ids."""
    rng = random.Random(seed)
    drawn: set[str] = set()
    for level in LEVELS:
        ids = sorted(s["id"] for s in scenarios if s["expect"]["severity"] == level)
        drawn.update(rng.sample(ids, round(fraction * len(ids))))
    return drawn


def write_parts(out: Path, seed: int, fraction: float) -> tuple[Path, Path]:
    raw = yaml.safe_load((CORPUS / "tuning.yaml").read_text(encoding="utf-8"))
    drawn = check_ids(raw["scenarios"], seed, fraction)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPUS / "catalogs.yaml", out / "catalogs.yaml")
    paths = []
    for name, keep in (("fit", False), ("check", True)):
        part = [s for s in raw["scenarios"] if (s["id"] in drawn) == keep]
        path = out / f"{name}.yaml"
        body = {"defaults": raw["defaults"], "scenarios": part}
        path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="folder for fit.yaml, check.yaml")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--fraction", type=float, default=FRACTION, help="share in the check part")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="so1_triage_split_"))
    fit, check = write_parts(out, args.seed, args.fraction)
    print(f"fit: {fit}\ncheck: {check}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
