"""bench/triage_eval.py end to end: cases replayed through the real app on both engines, scored.

The fixture corpus is the runbook's worked example twice: once with its right label (SEV2,
connection_exhaustion, which the seed must keep giving) and once deliberately mislabelled
(SEV0, database_failure), so the scorer must report one hit and one miss.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from bench import _triage_replay as replayer, triage_corpus as corpus, triage_eval
from bench._triage_score import score

NOW = "2024-01-15T14:45:00Z"
SERVICES = [
    {"name": "postgres", "tier": "critical", "owner_team": "platform-team"},
    {
        "name": "so1-control-plane-api",
        "tier": "critical",
        "owner_team": "platform-team",
        "users": 150,
        "dependencies": ["postgres"],
        "baselines": {"error_rate": "0.5%"},
    },
]
WORKED_EXAMPLE: dict[str, Any] = {
    "source": "runbook worked example",
    "services": SERVICES,
    "alert": {
        "alert_id": "pd-alert-123",
        "alert_source": "pagerduty",
        "alert_data": {
            "service": "so1-control-plane-api",
            "metric": "error_rate",
            "current_value": "12%",
            "threshold": "< 1%",
        },
    },
    "deployments": [
        {
            "service": "so1-control-plane-api",
            "version": "v2.14.0",
            "previous_version": "v2.13.2",
            "deployed_at": "2024-01-15T10:45:00Z",
            "deployed_by": "dana",
        }
    ],
    "related_alerts": [
        {
            "id": "pool-1",
            "source": "datadog",
            "service": "so1-control-plane-api",
            "metric": "db_pool_utilization",
            "current_value": "100%",
            "threshold": "< 90%",
            "first_seen_at": "2024-01-15T14:31:00Z",
            "summary": "Connection pool at 100% (Connection timeout after 5000ms)",
        }
    ],
}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def write_corpus(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"defaults": {"now": NOW}, "scenarios": list(cases)}))
    return path


def labelled(case_id: str, severity: str, cause: str, **more: Any) -> dict[str, Any]:
    return {
        **WORKED_EXAMPLE,
        "id": case_id,
        "expect": {"severity": severity, "cause": cause},
        "reason": f"{severity}: test",
        **more,
    }


@pytest.fixture
def fixture_corpus(tmp_path: Path) -> Path:
    return write_corpus(
        tmp_path / "fixture.yaml",
        labelled("seed-right", "SEV2", "connection_exhaustion"),
        labelled("seed-wrong-label", "SEV0", "database_failure"),
    )


@pytest.fixture
def fresh(db_url: str, tmp_path: Path, sqlite_template: Path) -> replayer.FreshDatabase:
    """Empty databases on the test's engine: SQLite copies, or the PostgreSQL one truncated."""
    if not db_url.startswith("sqlite"):
        return replayer.truncating(db_url)
    numbers = itertools.count()

    def copy() -> str:
        path = tmp_path / f"case-{next(numbers)}.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"

    return copy


def test_cases_run_through_orchestrate_and_are_scored(fixture_corpus: Path, fresh) -> None:
    outcomes = triage_eval.evaluate(corpus.load(fixture_corpus), fresh)
    right, wrong = outcomes
    assert right.error is None and right.report is not None
    assert right.level == "SEV2" and right.exact
    assert right.top_cause == "connection_exhaustion"
    evidence = [e for h in right.report["hypotheses"] for e in h["evidence"]]
    assert any("v2.14.0" in e for e in evidence), evidence  # the replayed deployment was seen
    assert not wrong.exact and wrong.top_cause != "database_failure"
    figures = score(outcomes)
    assert figures["severity_exact"]["hits"] == 1
    assert figures["top_cause"]["hits"] == 1
    assert figures["confusion"]["SEV0"]["SEV2"] == 1
    assert figures["confusion"]["SEV2"]["SEV2"] == 1


def test_the_world_is_built_over_the_api(tmp_path: Path, fresh) -> None:
    case = labelled(
        "world",
        "SEV2",
        "connection_exhaustion",
        flag_changes=[
            {
                "key": "bulk-execution",
                "service": "so1-control-plane-api",
                "enabled_before": False,
                "enabled_after": True,
                "changed_at": "2024-01-15T14:30:00Z",
                "reason": "launch",
            }
        ],
        related_alerts=[
            {**WORKED_EXAMPLE["related_alerts"][0], "status": "acknowledged", "dedup_count": 3},
            {
                "id": "old-1",
                "source": "events",
                "service": "postgres",
                "summary": "disk 91%",
                "first_seen_at": "2024-01-15T13:00:00Z",
                "status": "resolved",
            },
        ],
    )
    (loaded,) = corpus.load(write_corpus(tmp_path / "world.yaml", case))
    with replayer.world(loaded, fresh) as api:
        assert api.get("/v1/services/so1-control-plane-api").json()["users"] == 150
        (deployment,) = api.get("/v1/deployments/recent?hours=24").json()["deployments"]
        assert (deployment["version"], deployment["previous_version"]) == ("v2.14.0", "v2.13.2")
        assert api.get("/v1/feature-flags/bulk-execution").json()["enabled"] is True
        history = api.get("/v1/feature-flags/bulk-execution/history").json()
        assert [h["enabled_after"] for h in history] == [False, True]  # oldest first
        alerts = {a["dedup_key"]: a for a in api.get("/v1/alerts?limit=10").json()["items"]}
        assert alerts["pool-1"]["status"] == "acknowledged"
        assert alerts["pool-1"]["dedup_count"] == 3
        seen = (alerts["pool-1"]["first_seen_at"], alerts["pool-1"]["last_seen_at"])
        assert seen == ("2024-01-15T14:31:00Z", NOW)  # first seen then, still being sent now
        assert alerts["old-1"]["status"] == "resolved"


def test_a_case_the_app_refuses_is_an_error_not_a_crash(tmp_path: Path, fresh) -> None:
    too_long = {**WORKED_EXAMPLE["deployments"][0], "version": "v" * 101}
    path = write_corpus(
        tmp_path / "bad.yaml", labelled("bad", "SEV2", "unknown", deployments=[too_long])
    )
    (outcome,) = triage_eval.evaluate(corpus.load(path), fresh)
    assert outcome.report is None
    assert outcome.error is not None and "POST /v1/deployments: 422" in outcome.error
    assert score([outcome])["confusion"]["SEV2"]["error"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_command_line_json(fixture_corpus: Path, backend: str, capsys) -> None:
    code = triage_eval.main(["--file", str(fixture_corpus), "--json", "--backend", backend])
    figures = json.loads(capsys.readouterr().out)
    assert code == 0
    assert figures["cases"] == 2
    assert figures["severity_exact"] == {"hits": 1, "total": 2, "ratio": 0.5}
    assert set(figures["confusion"]) == set(corpus.LEVELS)


def test_command_line_text_and_misses(fixture_corpus: Path, capsys) -> None:
    assert triage_eval.main(["--file", str(fixture_corpus), "--show-misses"]) == 0
    out = capsys.readouterr().out
    assert "severity_exact" in out and "1/2 (50.0%)" in out
    assert "MISS seed-wrong-label: label SEV0, cause database_failure" in out
    assert "MISS seed-right" not in out


def test_misses_are_refused_on_a_holdout(tmp_path: Path, fixture_corpus: Path, capsys) -> None:
    holdout = tmp_path / "holdout.yaml"
    shutil.copy(fixture_corpus, holdout)
    assert triage_eval.main(["--file", str(holdout), "--show-misses"]) == 2
    captured = capsys.readouterr()
    assert "refused" in captured.err and captured.out == ""
