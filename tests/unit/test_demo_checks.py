"""What `so1 demo` holds itself to: its gate and its console agree on p99, the restart is no
worse than the incident, and a server it writes into can run it (or it says why not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from so1.entrypoints.demo.checks import p99_agreement, restart_impact
from so1.entrypoints.demo.server import unfit
from so1.entrypoints.demo.traffic import Reading
from so1.services.verification.gates import step_for

T0 = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def readings(p99s: list[float], errors: list[float] | None = None) -> list[Reading]:
    rates = errors or [0.0] * len(p99s)
    return [
        Reading(T0 + timedelta(seconds=i), rate, p99, 50.0, 400)
        for i, (p99, rate) in enumerate(zip(p99s, rates, strict=True))
    ]


def verdict(worst: float, since_second: int) -> dict[str, object]:
    since = (T0 + timedelta(seconds=since_second)).isoformat()
    return {
        "gates": [
            {"metric": "error_rate", "worst": 0.0, "passing_since": since},
            {"metric": "latency_p99_ms", "worst": worst, "passing_since": since},
        ]
    }


def test_the_gate_and_the_console_agree_when_they_read_the_same_samples() -> None:
    console = readings([1200.0, 900.0, 210.0, 250.0, 230.0, 240.0])
    judged = T0 + timedelta(seconds=7)
    same = p99_agreement(verdict(250.0, 2), judged, console)
    assert (same.gate_ms, same.console_ms, same.readings, same.agrees) == (250.0, 250.0, 4, True)
    assert "agree within 20%" in same.line()


def test_a_gate_that_missed_the_console_s_worst_seconds_disagrees() -> None:
    """The sceptic's report: SO1 said p99 ~170 ms while the console printed 1.2 s."""
    console = readings([210.0, 1200.0, 230.0, 180.0])
    thinned = p99_agreement(verdict(180.0, 0), T0 + timedelta(seconds=5), console)
    assert (thinned.console_ms, thinned.agrees) == (1200.0, False)
    assert "DISAGREE" in thinned.line()
    nothing = p99_agreement({"gates": []}, T0, console)
    assert (nothing.gate_ms, nothing.agrees) == (None, False)


def test_a_restart_worse_than_the_incident_is_said() -> None:
    incident = readings([300.0] * 3, [4.0, 9.0, 6.0])
    calm = restart_impact(incident, readings([900.0, 250.0], [2.0, 0.0]))
    assert (calm.incident_peak, calm.restart_peak, calm.worse) == (9.0, 2.0, False)
    assert calm.line().endswith("no worse")
    hurt = restart_impact(incident, readings([900.0, 250.0], [25.0, 0.0]))
    assert hurt.worse and "WORSE" in hurt.line()


def test_a_shortened_stability_window_is_judged_every_second() -> None:
    assert step_for(timedelta(minutes=30)) == 30
    assert step_for(timedelta(minutes=10)) == 10
    assert step_for(timedelta(seconds=15)) == 1


def test_a_server_that_cannot_run_the_demo_is_told_what_to_change() -> None:
    fit = {
        "platform": "local",
        "supervisor_url": "http://127.0.0.1:9001",
        "stability_minutes": 0.25,
        "clock_seconds": 1,
        "runbook_clocks": True,
    }
    assert unfit(fit) == []
    slow = unfit(fit | {"stability_minutes": 30.0, "clock_seconds": 15})
    assert len(slow) == 2
    assert "SO1_STABILITY_MINUTES" in slow[0] and "SO1_CLOCK_SECONDS" in slow[1]
    elsewhere = unfit(fit | {"platform": "railway", "supervisor_url": "http://10.0.0.5:9001"})
    assert "SO1_PLATFORM=local" in elsewhere[0] and "SO1_SUPERVISOR_URL" in elsewhere[1]
    assert "SO1_RUNBOOK_CLOCKS" in unfit(fit | {"runbook_clocks": False})[0]
