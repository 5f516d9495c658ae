"""bench/_machine.py: how busy the machine was while a setup was measured (CPU stolen by other
guests, the longest pause of a sleeping thread), and the mixed rate as a share of the
baseline's (bench/ingest.py)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from bench._machine import (
    CpuTimes,
    Heartbeat,
    Pauses,
    Watch,
    beat,
    reference_loop_ms,
    steal_percent,
)
from bench.ingest import share_of_baseline, with_machine

STAT = "cpu  {user} 0 {system} {idle} 5 0 3 {steal} 0 0\ncpu0  1 2 3 4 5 6 7 8 0 0\n"


def stat_file(tmp_path: Path, **ticks: int) -> Path:
    path = tmp_path / "stat"
    path.write_text(STAT.format(**ticks))
    return path


def test_cpu_times_sum_the_first_eight_fields_and_keep_steal(tmp_path: Path) -> None:
    found = CpuTimes.read(stat_file(tmp_path, user=100, system=20, idle=870, steal=2))
    assert found == CpuTimes(total=100 + 20 + 870 + 5 + 3 + 2, steal=2)


def test_cpu_times_are_none_without_proc_stat(tmp_path: Path) -> None:
    assert CpuTimes.read(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("")
    assert CpuTimes.read(tmp_path / "empty") is None


def test_steal_percent_is_the_stolen_share_between_readings() -> None:
    assert steal_percent(CpuTimes(1000, 10), CpuTimes(2000, 260)) == 25.0
    assert steal_percent(CpuTimes(1000, 10), CpuTimes(1000, 10)) is None  # no time passed
    assert steal_percent(None, CpuTimes(1000, 10)) is None


def test_pauses_keep_the_longest_and_list_long_ones() -> None:
    seen = Pauses()
    for pause, at in ((0.002, 1.0), (1.5, 2.0), (0.4, 3.0), (2.25, 4.0)):
        seen.note(pause, at)
    assert seen.longest == 2.25
    assert seen.long_pauses == [(2.0, 1.5), (4.0, 2.25)]


def test_beat_sleeps_until_its_stop_stream_closes() -> None:
    read, write = os.pipe()
    threading.Timer(0.2, os.close, [write]).start()
    with os.fdopen(read) as stop:
        started = time.monotonic()
        seen = beat(0.01, stop)
    assert 0.15 < time.monotonic() - started < 5
    assert 0 <= seen.longest < 1.0 and seen.long_pauses == []


def test_the_heartbeat_process_sees_the_machine_stand_still() -> None:
    """Its own process stopped for 1.2 s (SIGSTOP, as a paused machine): a long pause."""
    heartbeat = Heartbeat(every=0.01)
    heartbeat.start()
    child = heartbeat._child
    assert child is not None
    time.sleep(0.05)
    os.kill(child.pid, signal.SIGSTOP)
    time.sleep(1.2)
    os.kill(child.pid, signal.SIGCONT)
    time.sleep(0.1)
    heartbeat.stop()
    assert 1.0 <= heartbeat.seen.longest < 5.0
    assert len(heartbeat.seen.long_pauses) == 1
    assert child.poll() == 0


def test_a_watch_reports_steal_and_the_longest_pause() -> None:
    with Watch(every=0.005) as watch:
        time.sleep(0.05)
    watch.heartbeat.seen.note(1.2, time.time())  # as if the whole machine had stopped 1.2 s
    found = watch.figures()
    assert found["pause_ms"] == 1200.0
    assert len(found["long_pauses"]) == 1  # type: ignore[arg-type]
    if CpuTimes.read() is not None:  # Linux
        assert isinstance(found["steal_pct"], float)
        assert 0.0 <= found["steal_pct"] <= 100.0


def test_with_machine_adds_the_figures_and_the_long_pauses_beside_them() -> None:
    watch = Watch()
    watch.heartbeat.seen.note(3.0, 50.0)
    found = with_machine({"figures": {"mixed_rps": 10}}, watch)
    assert found["figures"] == {"mixed_rps": 10, "steal_pct": None, "pause_ms": 3000.0}
    assert found["long_pauses"] == [(50.0, 3.0)]


def test_share_of_baseline_is_the_ratio_of_the_mixed_rates() -> None:
    assert share_of_baseline({"mixed_rps": 3000}, {"mixed_rps": 10000}) == 0.3
    assert share_of_baseline({"mixed_rps": 3000}, {}) is None
    assert share_of_baseline({}, {"mixed_rps": 10000}) is None


def test_the_reference_loop_is_timed_in_ms() -> None:
    found = reference_loop_ms(repeat=2)
    assert 0.1 < found < 10_000
