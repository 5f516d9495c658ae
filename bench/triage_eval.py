"""Score the triage-responder on a labelled corpus, exactly as POST /v1/orchestrate runs it.

    .venv/bin/python bench/triage_eval.py [--file tests/scenarios/corpus/tuning.yaml] [--json]
        [--show-misses] [--backend sqlite|postgres]

Every case is replayed through the real app (bench/_triage_replay.py: its catalog,
deployments, flag flips and related alerts over the API, then the alert to
``POST /v1/orchestrate``) in a database of its own, and the report is scored against the
case's label (bench/_triage_score.py): exact severity, within one level, label or
also-acceptable, a confusion matrix over SEV0-4 and non_incident, top cause where labelled,
incident or not, SEV0/SEV1 kept at SEV0-1, SEV0-2 never closed, accuracy per confidence band
and whether every report under 0.70 says ``investigation_required``. Figures, not pass/fail:
the exit status is 1 only when a case could not be run (or a file is malformed).

``--show-misses`` lists each miss with the report's rationale. It is for the tuning set only
and is refused on a holdout file (tests/scenarios/HOLDOUT.md: the holdout's per-case results
are never shown). PostgreSQL comes from SO1_TEST_POSTGRES_URL (default: the local server); a
throw-away ``so1_triage_eval_*`` database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import _triage_replay as replayer
from bench._triage_score import LOW_CONFIDENCE, Outcome, checks, score
from bench.triage_corpus import LEVELS, Case, CorpusError, load_many

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT / "tests" / "scenarios" / "corpus" / "tuning.yaml"
HOLDOUT_NAME = "holdout.yaml"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def evaluate(cases: Sequence[Case], fresh: replayer.FreshDatabase) -> list[Outcome]:
    """Run every case; a case that fails to run is kept as an outcome with its error."""
    outcomes = []
    for case in cases:
        try:
            outcomes.append(Outcome(case, report=replayer.replay(case, fresh)))
        except replayer.ReplayError as exc:
            outcomes.append(Outcome(case, error=str(exc)))
    return outcomes


@contextmanager
def databases(backend: str) -> Iterator[replayer.FreshDatabase]:
    if backend == "postgres":
        with replayer.postgres_databases(os.environ.get("SO1_TEST_POSTGRES_URL", DEFAULT_PG)) as f:
            yield f
    else:
        with replayer.sqlite_databases() as f:
            yield f


def render(figures: dict[str, Any], files: Sequence[Path], seconds: float) -> str:
    names = ", ".join(p.name for p in files)
    lines = [f"triage evaluation of {names}: {figures['cases']} cases in {seconds:.1f}s"]
    if figures["errors"]:
        lines.append(f"  {figures['errors']} case(s) could not be run (counted as misses)")
    acceptable = figures["severity_acceptable"]
    lines.append(
        f"  severity, label or also_acceptable: {acceptable['hits']}/{acceptable['total']}"
    )
    lines.append(f"  incident or not: {_pct(figures['incident_or_not'])}")
    lines.append("")
    lines.append(f"  {'figure':<48} {'value':<18} {'target':<8} met")
    for name, value, target, met in checks(figures):
        lines.append(f"  {name:<48} {value:<18} {target:<8} {'yes' if met else 'NO'}")
    lines.append("")
    lines.append("  confusion (rows: label, columns: triage)")
    columns = (*LEVELS, "error")
    lines.append("  " + f"{'':<13}" + "".join(f"{c[:8]:>9}" for c in columns))
    for label, row in figures["confusion"].items():
        lines.append("  " + f"{label:<13}" + "".join(f"{row[c]:>9}" for c in columns))
    lines.append("")
    lines.append("  calibration (exact severity per confidence band)")
    for band, r in figures["calibration"].items():
        lines.append(f"  {band:<13} {_pct(r)}")
    return "\n".join(lines)


def misses(outcomes: Sequence[Outcome]) -> str:
    """Each case whose severity or labelled cause was missed, with the report's rationale."""
    lines = []
    for o in outcomes:
        cause_missed = o.case.label.cause is not None and o.top_cause != o.case.label.cause
        if o.exact and not cause_missed:
            continue
        label = o.case.label
        lines.append(
            f"MISS {o.case.id}: label {label.severity}"
            f"{' (or ' + ', '.join(label.also_acceptable) + ')' if label.also_acceptable else ''}"
            f", cause {label.cause or '-'}"
        )
        if o.error:
            lines.append(f"    error: {o.error}")
            continue
        report = o.report or {}
        lines.append(
            f"    got {o.level}, cause {o.top_cause}, confidence {o.confidence}, "
            f"status {report.get('status')}"
        )
        lines.extend(f"      {line}" for line in report.get("rationale", []))
    return "\n".join(lines) if lines else "no misses"


def _pct(r: dict[str, Any]) -> str:
    return f"{r['hits']}/{r['total']} ({r['ratio']:.1%})" if r["total"] else "n/a (0 cases)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--file", type=Path, action="append", help="corpus file (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-misses", action="store_true", help="list each miss (tuning only)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    files: list[Path] = args.file or [DEFAULT_FILE]
    if args.show_misses and any(p.name == HOLDOUT_NAME for p in files):
        print(
            f"error: --show-misses is refused on {HOLDOUT_NAME}: the holdout's per-case "
            "results are never shown (tests/scenarios/HOLDOUT.md)",
            file=sys.stderr,
        )
        return 2
    try:
        cases = load_many(files)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    with databases(args.backend) as fresh:
        outcomes = evaluate(cases, fresh)
    figures = score(outcomes)
    figures["low_confidence_threshold"] = LOW_CONFIDENCE
    if args.json:
        print(json.dumps({"files": [str(p) for p in files], **figures}, indent=2))
    else:
        print(render(figures, files, time.perf_counter() - started))
    if args.show_misses:
        print()
        print(misses(outcomes))
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
