"""The runbook's metric gates: effective, stable, partial, ineffective, new symptoms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from so1.domain.health import HEALTH_METRIC
from so1.domain.metrics import Series
from so1.domain.verification import DEFAULT_GATES, HEALTH_GATE, Gate, Outcome, gates_for, judge

ACTED = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def series(metric: str, values: list[float], start: datetime, every: int = 60) -> Series:
    points = [(start + timedelta(seconds=i * every), v) for i, v in enumerate(values)]
    return Series("control-plane-api", metric, points)


def before(error: float = 12.0, p99: float = 300.0) -> dict[str, Series]:
    start = ACTED - timedelta(minutes=10)
    return {
        "error_rate": series("error_rate", [error] * 10, start),
        "latency_p99_ms": series("latency_p99_ms", [p99] * 10, start),
    }


def after(errors: list[float], p99s: list[float] | None = None) -> dict[str, Series]:
    p99s = p99s if p99s is not None else [300.0] * len(errors)
    return {
        "error_rate": series("error_rate", errors, ACTED),
        "latency_p99_ms": series("latency_p99_ms", p99s, ACTED),
    }


def at(minutes: int) -> datetime:
    return ACTED + timedelta(minutes=minutes)


def test_the_seed_pool_fix_is_effective_then_stable() -> None:
    falling = [8.0, 3.0, 0.4] + [0.3] * 7
    verdict = judge(DEFAULT_GATES, before(), after(falling), ACTED, at(10))
    assert verdict.outcome is Outcome.EFFECTIVE
    assert verdict.stable_for == timedelta(minutes=8)  # passing since minute 2
    assert verdict.failing == []

    long_run = [8.0, 3.0] + [0.3] * 40
    stable = judge(DEFAULT_GATES, before(), after(long_run), ACTED, at(41))
    assert stable.outcome is Outcome.STABLE
    assert "39 min" in stable.reason


def test_a_relapse_restarts_the_stability_window() -> None:
    relapse = [0.3] * 20 + [1.5] + [0.3] * 5
    verdict = judge(DEFAULT_GATES, before(), after(relapse), ACTED, at(26))
    assert verdict.outcome is Outcome.EFFECTIVE
    assert verdict.stable_for == timedelta(minutes=5)


def test_no_change_after_the_settle_window_is_ineffective() -> None:
    flat = [12.0, 11.8, 12.1, 11.9, 12.0, 11.7]
    assert judge(DEFAULT_GATES, before(), after(flat), ACTED, at(3)).outcome is Outcome.WAITING
    verdict = judge(DEFAULT_GATES, before(), after(flat), ACTED, at(6))
    assert verdict.outcome is Outcome.INEFFECTIVE
    assert verdict.failing == ["error_rate < 1%"]


def test_better_but_not_there_is_partial_naming_what_fails() -> None:
    verdict = judge(DEFAULT_GATES, before(), after([6.0, 4.0, 3.0, 2.5, 2.4, 2.3]), ACTED, at(6))
    assert verdict.outcome is Outcome.PARTIAL
    assert "error_rate < 1%" in verdict.reason


def test_a_gate_that_passed_before_and_fails_now_is_a_new_symptom() -> None:
    slow = [800.0] * 6
    verdict = judge(DEFAULT_GATES, before(), after([0.3] * 6, slow), ACTED, at(6))
    assert verdict.outcome is Outcome.NEW_SYMPTOMS
    assert "latency_p99_ms < 500 ms" in verdict.reason


def test_missing_data_is_said_not_guessed() -> None:
    verdict = judge(
        DEFAULT_GATES, before(), {"error_rate": series("error_rate", [0.1], ACTED)}, ACTED, at(6)
    )
    assert verdict.outcome is Outcome.NO_DATA
    assert "latency_p99_ms" in verdict.reason
    assert "no data" in verdict.gates[1].summary()


def test_catalog_baselines_replace_thresholds() -> None:
    gates = gates_for({"gates": {"error_rate": 2.5, "db_pool_utilization": 80}})
    assert gates == (
        Gate("error_rate", 2.5),
        Gate("latency_p99_ms", 500.0),
        Gate("db_pool_utilization", 80.0),
    )
    assert gates_for({}) == DEFAULT_GATES
    assert gates_for({"gates": "nonsense"}) == DEFAULT_GATES
    assert gates_for({"gates": {"error_rate": "high", "latency_p99_ms": True}}) == DEFAULT_GATES
    assert gates_for({"gates": {"error_rate": "2"}})[0] == Gate("error_rate", 2.0)
    verdict = judge(gates[:1], before(), after([2.0] * 6), ACTED, at(6))
    assert verdict.outcome is Outcome.EFFECTIVE


def test_a_new_alert_after_the_action_is_a_new_symptom() -> None:
    good = after([0.3] * 8)
    fired = [ACTED + timedelta(minutes=6)]
    early = judge(DEFAULT_GATES, before(), good, ACTED, at(8), new_alerts=[])
    assert early.outcome is Outcome.EFFECTIVE
    assert early.gates[-1].summary() == "✅ no new alerts firing: 0 (before: 0)"
    verdict = judge(DEFAULT_GATES, before(), good, ACTED, at(8), new_alerts=fired)
    assert verdict.outcome is Outcome.NEW_SYMPTOMS
    assert "no new alerts firing" in verdict.reason
    assert verdict.stable_for == timedelta(0)


def test_a_health_check_that_starts_failing_is_a_new_symptom() -> None:
    gates = (*DEFAULT_GATES, HEALTH_GATE)
    was = before() | {
        HEALTH_METRIC: series(HEALTH_METRIC, [0.0] * 10, ACTED - timedelta(minutes=10))
    }
    now = after([0.3] * 6) | {HEALTH_METRIC: series(HEALTH_METRIC, [0.0] * 3 + [1.0] * 3, ACTED)}
    verdict = judge(gates, was, now, ACTED, at(6))
    assert verdict.outcome is Outcome.NEW_SYMPTOMS
    assert verdict.failing == ["service health checks passing"]
    assert verdict.gates[-1].summary() == "❌ service health checks passing: no (before: yes)"

    healed = after([0.3] * 6) | {HEALTH_METRIC: series(HEALTH_METRIC, [1.0] * 2 + [0.0] * 4, ACTED)}
    recovered = judge(gates, before(), healed, ACTED, at(6))
    assert recovered.outcome is Outcome.EFFECTIVE
    assert recovered.stable_for == timedelta(minutes=4)  # the health check decides


def test_a_passing_gate_names_the_worst_point_it_vouches_for() -> None:
    """The worst of the run of passing points, not of the points before it: what a reader
    compares with their own measurements of the same window."""
    p99s = [900.0, 700.0, 420.0, 180.0, 260.0, 200.0]
    verdict = judge(DEFAULT_GATES, before(), after([0.2] * 6, p99s), ACTED, at(6))
    p99 = next(r for r in verdict.gates if r.gate.metric == "latency_p99_ms")
    assert (p99.passing_since, p99.worst) == (at(2), 420.0)
    failing = judge(DEFAULT_GATES, before(), after([0.2, 0.2], [300.0, 600.0]), ACTED, at(2))
    assert next(r for r in failing.gates if r.gate.metric == "latency_p99_ms").worst is None
