"""The triage evaluation corpus: its file format, its labels, and how the holdout was drawn.

A corpus file (tests/scenarios/corpus/*.yaml, catalogs.yaml beside it) has ``defaults``
(``now``, optional ``catalog``) and ``scenarios``, each in the tests/scenarios format (alert,
deployments, flag_changes, related_alerts, catalog) plus ``source``, ``reason`` and an exact
label in ``expect``: one ``severity`` (SEV0-SEV4 or non_incident), the neighbouring levels
that are ``also_acceptable`` where the runbook's table is ambiguous, and the top ``cause``
where one can be told. The pydantic models below are the format; a wrong file fails with the
case id and the field.

    .venv/bin/python bench/triage_corpus.py check FILE...       # validate; counts per label
    .venv/bin/python bench/triage_corpus.py draw POOL... --tuning OUT --holdout OUT

``draw`` is the stratified, seeded draw that made the holdout (see tests/scenarios/HOLDOUT.md).
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from so1.domain.triage import CAUSES

LEVELS = ("SEV0", "SEV1", "SEV2", "SEV3", "SEV4", "non_incident")
Level = Literal["SEV0", "SEV1", "SEV2", "SEV3", "SEV4", "non_incident"]
SEED = 20240604
HOLDOUT_FRACTION = 0.35
CATALOGS_FILE = "catalogs.yaml"
M = TypeVar("M", bound=BaseModel)


class CorpusError(ValueError):
    """A corpus file that does not follow the format; the message names the case and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    tier: Literal["critical", "high", "medium", "low"]
    owner_team: str | None = None
    users: int | None = Field(default=None, ge=0)
    dependencies: list[str] = Field(default_factory=list)
    baselines: dict[str, Any] = Field(default_factory=dict)


class Deployment(_Strict):
    service: str
    version: str
    previous_version: str | None = None
    deployed_at: AwareDatetime
    deployed_by: str | None = None
    commit_sha: str | None = None
    status: Literal["succeeded", "failed", "in_progress", "rolled_back"] = "succeeded"
    config: dict[str, Any] = Field(default_factory=dict)
    notes: str | None = None


class FlagChange(_Strict):
    key: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    service: str | None = None
    enabled_before: bool
    enabled_after: bool
    actor: str | None = None
    changed_at: AwareDatetime
    reason: str | None = None


class RelatedAlert(_Strict):
    id: str
    source: str
    service: str
    summary: str = Field(min_length=1)
    metric: str | None = None
    current_value: str | float | None = None
    threshold: str | None = None
    severity_hint: Literal["critical", "error", "warning", "info"] | None = None
    status: Literal["firing", "acknowledged", "resolved"] = "firing"
    first_seen_at: AwareDatetime
    dedup_count: int = Field(default=1, ge=1, le=50)


class Alert(_Strict):
    alert_id: str = Field(min_length=1)
    alert_source: str = Field(min_length=1)
    alert_data: dict[str, Any]

    @model_validator(mode="after")
    def _has_service(self) -> Alert:
        if not isinstance(self.alert_data.get("service"), str):
            raise ValueError("alert_data.service is required (SO1's generic field)")
        return self


class Expect(_Strict):
    severity: Level
    also_acceptable: list[Level] = Field(default_factory=list)
    cause: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Expect:
        here = LEVELS.index(self.severity)
        for other in self.also_acceptable:
            if abs(LEVELS.index(other) - here) != 1:
                raise ValueError(f"also_acceptable {other} is not one level from {self.severity}")
        if self.cause is not None and self.cause not in CAUSES:
            raise ValueError(f"cause {self.cause!r} is not in the vocabulary: {sorted(CAUSES)}")
        if self.cause is not None and self.severity == "non_incident":
            raise ValueError("a non_incident has no cause to rank")
        return self


class CaseIn(_Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    source: str = Field(min_length=10)
    reason: str
    expect: Expect
    alert: Alert
    description: str | None = None
    catalog: str | None = None
    services: list[Service] | None = None
    now: AwareDatetime | None = None
    deployments: list[Deployment] = Field(default_factory=list)
    flag_changes: list[FlagChange] = Field(default_factory=list)
    related_alerts: list[RelatedAlert] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reason_cites_label(self) -> CaseIn:
        if not self.reason.startswith(f"{self.expect.severity}: "):
            raise ValueError(f"reason must start with '{self.expect.severity}: ' and cite the row")
        return self


class Defaults(_Strict):
    now: AwareDatetime
    catalog: str | None = None


class CorpusFile(_Strict):
    defaults: Defaults
    scenarios: list[CaseIn] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    """One labelled alert with everything needed to replay it."""

    raw: CaseIn
    file: str
    now: datetime
    services: tuple[Service, ...]

    @property
    def id(self) -> str:
        return self.raw.id

    @property
    def label(self) -> Expect:
        return self.raw.expect


def load(path: Path) -> list[Case]:
    """Every case of one corpus file, validated, with its catalog resolved."""
    corpus = _parse(CorpusFile, _read_yaml(path), path.name)
    catalogs = load_catalogs(path.parent / CATALOGS_FILE)
    cases = []
    for raw in corpus.scenarios:
        name = raw.catalog or corpus.defaults.catalog
        if raw.services is not None:
            services: tuple[Service, ...] = tuple(raw.services)
        elif name is None:
            services = ()
        elif name in catalogs:
            services = catalogs[name]
        else:
            raise CorpusError(f"{path.name}: case {raw.id}: unknown catalog {name!r}")
        cases.append(Case(raw, path.name, raw.now or corpus.defaults.now, services))
    return cases


def load_many(paths: Iterable[Path]) -> list[Case]:
    cases = [case for path in paths for case in load(path)]
    repeated = sorted(i for i, n in Counter(c.id for c in cases).items() if n > 1)
    if repeated:
        raise CorpusError(f"case ids used more than once: {', '.join(repeated)}")
    return cases


def load_catalogs(path: Path) -> dict[str, tuple[Service, ...]]:
    if not path.exists():
        return {}
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise CorpusError(f"{path.name}: expected a mapping of catalog name to services")
    return {
        str(name): tuple(_parse(Service, s, f"{path.name}: {name}") for s in services)
        for name, services in raw.items()
    }


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: {exc}") from exc


def _parse(model: type[M], raw: Any, where: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise CorpusError(f"{where}: {field}: {first['msg']}") from exc


def draw_holdout(
    cases: Sequence[Case], seed: int = SEED, fraction: float = HOLDOUT_FRACTION
) -> set[str]:
    """Ids of the holdout: per label, ceil(fraction x n) ids sampled from the sorted ids."""
    rng = random.Random(seed)
    chosen: set[str] = set()
    for level in LEVELS:
        ids = sorted(c.id for c in cases if c.label.severity == level)
        chosen.update(rng.sample(ids, math.ceil(len(ids) * fraction)))
    return chosen


def label_counts(cases: Iterable[Case]) -> dict[str, int]:
    counts: Counter[str] = Counter(c.label.severity for c in cases)
    return {level: counts[level] for level in LEVELS}


KEY_ORDER = (
    "id",
    "source",
    "description",
    "catalog",
    "services",
    "now",
    "alert",
    "deployments",
    "flag_changes",
    "related_alerts",
    "expect",
    "reason",
)


def write_split(
    pool: Sequence[Path], tuning: Path, holdout: Path, seed: int, fraction: float
) -> None:
    """Validate the pool, draw the holdout and write both files (raw cases, as written)."""
    cases = load_many(pool)
    chosen = draw_holdout(cases, seed, fraction)
    raws: list[dict[str, Any]] = []
    for path in pool:
        doc = _read_yaml(path)
        for raw in doc["scenarios"]:
            raw.setdefault("catalog", doc["defaults"].get("catalog"))
            raw.setdefault("now", doc["defaults"]["now"])
            raws.append({k: raw[k] for k in KEY_ORDER if raw.get(k) is not None})
    for path, keep in ((holdout, True), (tuning, False)):
        part = sorted((r for r in raws if (r["id"] in chosen) == keep), key=lambda r: r["id"])
        body = yaml.safe_dump(
            {"scenarios": part},
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=False,
        )
        header = _header(holdout=keep, seed=seed, fraction=fraction, all_cases=cases, part=part)
        path.write_text(header + body, encoding="utf-8")


def _header(
    *,
    holdout: bool,
    seed: int,
    fraction: float,
    all_cases: Sequence[Case],
    part: Sequence[dict[str, Any]],
) -> str:
    ids = {r["id"] for r in part}
    mine = [c for c in all_cases if c.id in ids]
    per_label = ", ".join(f"{k} {v}" for k, v in label_counts(mine).items())
    of_all = ", ".join(f"{k} {v}" for k, v in label_counts(all_cases).items())
    origins = Counter(origin(c.raw.source) for c in mine)
    kind = "FROZEN HOLDOUT" if holdout else "TUNING SET"
    lines = [
        f"# Triage evaluation corpus: {kind} ({len(mine)} cases: {per_label}).",
        "# Labelled against the runbook's severity table before any triage was run on them;",
        "# see tests/scenarios/HOLDOUT.md for the labelling rules and the sources.",
        f"# Drawn with bench/triage_corpus.py draw: from all {len(all_cases)} cases ({of_all}),",
        f"# per severity label, ceil({fraction} x n) ids sampled from the sorted ids with",
        f"# random.Random({seed}) (one generator, labels in the order SEV0..SEV4, non_incident);",
        "# the drawn ids are the holdout, the rest the tuning set.",
    ]
    sources = "Sources of these cases: " + "; ".join(f"{k} ({n})" for k, n in origins.most_common())
    lines += ["# " + line for line in textwrap.wrap(sources, 96)]
    if holdout:
        lines += [
            "# RULE: no knowledge change may be made while looking at this file, and its per-case",
            "# results are never printed. Score it once per knowledge change, without",
            "# --show-misses, and add the figures to the history in tests/scenarios/HOLDOUT.md.",
        ]
    return "\n".join(lines) + '\ndefaults:\n  now: "2024-06-04T15:00:00Z"\n'


def origin(source: str) -> str:
    """The collection or document a case's ``source`` names, for the file headers."""
    if source.startswith("runbook"):
        return "the runbook (scenarios, worked example, pattern tables)"
    if source.startswith("written for the corpus"):
        return "written for the corpus from the runbook's severity table"
    return re.split(r"[,:(]", source, maxsplit=1)[0].strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate corpus files; print counts per label")
    check.add_argument("files", nargs="+", type=Path)
    draw = sub.add_parser("draw", help="draw the holdout from a pool of cases")
    draw.add_argument("pool", nargs="+", type=Path)
    draw.add_argument("--tuning", type=Path, required=True)
    draw.add_argument("--holdout", type=Path, required=True)
    draw.add_argument("--seed", type=int, default=SEED)
    draw.add_argument("--fraction", type=float, default=HOLDOUT_FRACTION)
    args = parser.parse_args(argv)
    try:
        if args.command == "draw":
            write_split(args.pool, args.tuning, args.holdout, args.seed, args.fraction)
            return 0
        for path in args.files:
            print(f"{path}: {len(load(path))} cases, {label_counts(load(path))}")
        load_many(args.files)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
