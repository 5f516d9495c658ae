"""Pure pieces of the investigation context: log patterns, stack traces, the symptom table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from so1.domain.investigation import symptom_table
from so1.domain.metrics import Series
from so1.services.investigation.log_patterns import stack_traces, summarize

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


def test_new_patterns_come_first_with_their_counts() -> None:
    previous = [f"cache miss for key user:{i}" for i in range(5)]
    current = [f"cache miss for key user:{i}" for i in range(3)]
    current += [f"Connection refused to db-{i}:5432" for i in range(4)]
    found = summarize(current, previous)
    assert found.lines == 7
    assert [(p.new, p.count) for p in found.patterns] == [(True, 4), (False, 3)]
    assert found.patterns[0].example == "Connection refused to db-0:5432"


def test_java_and_python_traces_are_kept_whole() -> None:
    lines = [
        "INFO started",
        "java.lang.IllegalStateException: pool closed",
        "    at com.x.Pool.get(Pool.java:42)",
        "    at com.x.Api.handle(Api.java:7)",
        "INFO request done",
        "Traceback (most recent call last):",
        '  File "app.py", line 9, in run',
        "KeyError: 'tenant'",
        "ValueError: alone, without frames",
    ]
    traces = stack_traces(lines)
    assert traces[0].splitlines()[-1].strip() == "at com.x.Api.handle(Api.java:7)"
    assert traces[1].endswith("KeyError: 'tenant'")
    assert len(traces) == 2


def series(metric: str, values: list[float]) -> Series:
    return Series("api", metric, [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)])


def test_symptom_rows_match_on_the_metrics() -> None:
    found = {
        s.metric: s
        for s in (
            series("error_rate", [0.2, 9.0]),
            series("latency_p99_ms", [200.0, 450.0]),
            series("memory_mb", [300.0, 420.0]),
        )
    }
    rows = {r.symptom: r for r in symptom_table(found, T0 - timedelta(hours=5), T0)}
    assert rows["Latency spike"].matched is True  # 2x its level at the window start
    assert rows["Gradual degradation"].matched is True
    assert rows["5xx spike + pool at 100%"].matched is False  # no pool data
    assert "pool no data" in rows["5xx spike + pool at 100%"].evidence
    assert rows["Sudden outage"].matched is False  # deployed 5 h before: not recent
    assert rows["Regional issues"].matched is False
