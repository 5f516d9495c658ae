"""The triage-responder's time per alert, from the seed's example to 1 MiB of text.

    .venv/bin/python bench/triage.py [--repeat 20]

Pure agent, no database: the inputs are built once, then ``TriageResponder.run`` is timed
``--repeat`` times per case; prints the median and the ratio to the seed's example.
Target: every case under 50 ms (triage reads at most 32 KB of an alert's text).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.triage_inputs import triage_input

from so1.agents.triage import TriageInput, TriageResponder

TARGET_MS = 50.0
SIZES = {"1 KB": 1024, "8 KB": 8 * 1024, "64 KB": 64 * 1024, "1 MiB": 1024 * 1024}
UNITS = {
    "digits": "1",
    "words": "all error node lost db the since v1. ",
    "negations": "no data loss, ",
}
SEED: dict[str, Any] = {
    "alert_id": "pd-alert-123",
    "alert_source": "pagerduty",
    "alert_data": {
        "service": "so1-control-plane-api",
        "metric": "error_rate",
        "current_value": "12%",
        "threshold": "< 1%",
    },
    "context": {
        "now": "2024-01-15T14:45:00Z",
        "services": [{"name": "control-plane-api", "tier": "critical", "users": 150}],
    },
}


def case(text: str) -> TriageInput:
    data = {**SEED["alert_data"], "summary": text[:1024], "message": text, "body": text}
    return triage_input({**SEED, "alert_data": data})


def median_ms(inputs: TriageInput, repeat: int) -> float:
    agent = TriageResponder()
    agent.run(inputs)  # warm: the knowledge is loaded once
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        agent.run(inputs)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    base = median_ms(triage_input(SEED), args.repeat)
    print(f"{'case':32} {'median ms':>10} {'x seed':>8}  target < {TARGET_MS:.0f} ms")
    print(f"{'seed example':32} {base:10.2f} {1.0:8.1f}")
    for unit_name, unit in UNITS.items():
        for size_name, size in SIZES.items():
            text = (unit * (size // len(unit) + 1))[:size]
            took = median_ms(case(text), args.repeat)
            flag = "" if took < TARGET_MS else "  OVER TARGET"
            print(f"{unit_name + ', ' + size_name:32} {took:10.2f} {took / base:8.1f}{flag}")


if __name__ == "__main__":
    main()
