"""The pure parts of bench/ingest.py: reading loadgen's result line, the harmonic mean of the
mixed run, receipt→triage from polls, and the pass/fail of the table's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import _ingest_table as table
from bench._loadgen import Load, LoadgenError, harmonic_mean, parse_result
from bench._triage_probe import figures, next_low, receipt_to_triage
from bench.ingest import setups

LINE = {
    "url": "http://127.0.0.1:1/v1/alerts",
    "mode": "max",
    "sent": 1000,
    "completed": 995,
    "unfinished": 2,
    "ok_2xx": 990,
    "statuses": {"202": 990, "503": 5},
    "errors": {"TimeoutError": 3},
    "elapsed_s": 2.5,
    "achieved_rps": 398.0,
    "ok_rps": 396.0,
    "latency_ms": {"50": 4.2, "90": 8.0, "99": 12.5, "99.9": 30.1, "max": 40.0},
}


def test_parse_result_counts_non_2xx_failures_and_unfinished_as_errors() -> None:
    found = parse_result("uvloop\n" + json.dumps(LINE) + "\n")
    assert (found.sent, found.ok, found.errors) == (1000, 990, 10)
    assert (found.p50_ms, found.p99_ms, found.ok_rps, found.elapsed_s) == (4.2, 12.5, 396.0, 2.5)
    assert found.statuses == {"202": 990, "503": 5}
    assert not found.all_ok


def test_parse_result_takes_the_last_json_line() -> None:
    first = {**LINE, "sent": 1, "statuses": {"202": 1}, "errors": {}, "unfinished": 0}
    last = {**LINE, "sent": 7, "statuses": {"202": 7}, "errors": {}, "unfinished": 0}
    found = parse_result(json.dumps(first) + "\n" + json.dumps(last))
    assert (found.sent, found.ok, found.errors, found.all_ok) == (7, 7, 0, True)


def test_parse_result_reads_nan_latency_as_missing() -> None:
    empty = {**LINE, "statuses": {}, "latency_ms": {"50": float("nan"), "99": float("nan")}}
    found = parse_result(json.dumps(empty))
    assert found.p50_ms is None and found.p99_ms is None and found.ok == 0


def test_parse_result_without_a_result_line_is_an_error() -> None:
    with pytest.raises(LoadgenError):
        parse_result("Traceback (most recent call last):\n  boom\n")


def test_load_command_says_mode_keyspace_and_key() -> None:
    rate = Load("rate", Path("t.json"), 10, rate=1000, concurrency=64, run_id="r1")
    cmd = rate.command("http://127.0.0.1:9/v1/alerts", "tok")
    assert cmd[cmd.index("--mode") + 1] == "rate" and cmd[cmd.index("--rate") + 1] == "1000"
    assert cmd[cmd.index("--connections") + 1] == "64" and "--concurrency" not in cmd
    assert cmd[-2:] == ["--header", "Authorization: Bearer tok"]
    closed = Load("max", Path("t.json"), 10, keyspace=500, concurrency=32).command("u", None)
    assert closed[closed.index("--keyspace") + 1] == "500" and "--header" not in closed
    assert closed[closed.index("--concurrency") + 1] == "32" and "--rate" not in closed


def test_harmonic_mean_is_the_rate_of_an_even_mix() -> None:
    # 1,000 new at 1,000/s (1 s) and 1,000 duplicates at 3,000/s (1/3 s): 2,000 in 4/3 s
    assert harmonic_mean([1000.0, 3000.0]) == pytest.approx(1500.0)
    assert harmonic_mean([2000.0, 2000.0]) == pytest.approx(2000.0)
    assert harmonic_mean([1000.0, 0.0]) == 0.0
    assert harmonic_mean([]) == 0.0


def test_receipt_to_triage_measures_decided_alerts_only() -> None:
    received = {"a": 100.0, "b": 100.5, "c": 101.0}
    decided = {"a": 100.2, "b": 101.5}
    assert receipt_to_triage(received, decided) == pytest.approx([0.2, 1.0])


def test_next_low_stays_before_the_oldest_waiting_alert() -> None:
    assert next_low(since=10.0, waiting=[50.0, 40.0], poll_start=60.0) == 38.0
    assert next_low(since=10.0, waiting=[], poll_start=60.0) == 58.0
    assert next_low(since=59.0, waiting=[], poll_start=60.0) == 59.0


def test_figures_are_nearest_rank_percentiles_in_ms() -> None:
    found = figures([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert found == {"alerts": 100, "p50_ms": 50.0, "p99_ms": 99.0}
    assert figures([]) == {"alerts": 0, "p50_ms": None, "p99_ms": None}


def test_rows_pass_and_fail_against_targets() -> None:
    found = {"mixed_rps": 2999, "cpu_ms_load": 0.5, "storm_incidents": 2, "new_rps": 4000}
    rows = {r.figure: r for r in table.rows(table.SQLITE, found, {"new_rps": 9000})}
    assert rows["mixed alerts/s (harmonic mean)"].verdict == "FAIL"
    assert rows["mixed alerts/s (harmonic mean)"].target == ">= 3000"
    assert rows["server CPU ms per alert, during load"].verdict == "pass"
    assert rows["storm incidents created"].verdict == "FAIL"
    new = rows["new alerts/s (closed loop)"]
    assert (new.value, new.baseline, new.target, new.verdict) == ("4,000", "9,000", "", "")


def test_targets_differ_by_setup() -> None:
    found = {"mixed_rps": 2600, "rate1000_p99_ms": None}
    one_machine = {r.figure: r.verdict for r in table.rows(table.ONE_MACHINE, found, {})}
    assert one_machine["mixed alerts/s (harmonic mean)"] == "pass"
    assert one_machine["open loop 1,000/s p99 ms"] == "FAIL"  # missing counts as not met
    postgres = {r.figure: r.verdict for r in table.rows(table.POSTGRES, found, {})}
    assert postgres["mixed alerts/s (harmonic mean)"] == ""
    baseline = table.rows("do-nothing FastAPI", found, {})  # no targets
    assert all(r.verdict == "" for r in baseline)


def test_markdown_and_failures() -> None:
    rows = table.rows(table.SQLITE, {"mixed_rps": 100, "storm_errors": 0}, {"mixed_rps": 900})
    text = table.markdown(rows)
    assert text.splitlines()[0].startswith("| setup | figure |")
    line = "| SQLite so1 serve | mixed alerts/s (harmonic mean) | 100 | 900 | >= 3000 | FAIL |"
    assert line in text
    assert [r.figure for r in table.failures(rows)] == ["mixed alerts/s (harmonic mean)"]


def test_check_compares_with_the_bound() -> None:
    assert table.check(20.0, table.Target("<=", 20)) is True
    assert table.check(20.1, table.Target("<=", 20)) is False
    assert table.check(1, table.Target("==", 1)) is True
    assert table.check(None, table.Target(">=", 1)) is False
    assert table.check(5, None) is None


def test_more_server_processes_are_measured_on_the_engine_asked_for() -> None:
    found = {
        name: (workers, topology) for name, _, workers, topology in setups("postgres", [3], [2])
    }
    assert found == {
        table.POSTGRES: (1, False),
        f"{table.POSTGRES} --workers 2": (2, False),
        table.ONE_MACHINE: (2, True),
    }
    sqlite = [name for name, *_ in setups("sqlite", [2], [4])]
    assert sqlite == [table.SQLITE, f"{table.SQLITE} --workers 2"]
    targets = {
        r.figure: r.target for r in table.rows(f"{table.POSTGRES} --workers 2", {"storm_s": 4}, {})
    }
    assert targets["storm: all alerts accepted in s"] == "<= 5"
