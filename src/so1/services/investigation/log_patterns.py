"""Error log patterns: log lines clustered into templates with drain3 (a maintained log
parser), the patterns new in the live deployment compared with the previous one, and stack
traces kept whole."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

TOP = 10
TRACE_START = re.compile(
    r"^(Traceback \(most recent call last\)|Exception in thread|\w+(\.\w+)*(Error|Exception):)"
)
TRACE_LINE = re.compile(r"^(\s+|File \"|at |Caused by:|\.\.\. \d+ more)")

logging.getLogger("drain3").setLevel(logging.WARNING)  # it logs its configuration at INFO


@dataclass(frozen=True, slots=True)
class Pattern:
    template: str
    count: int
    example: str
    new: bool  # not seen in the previous deployment's logs


@dataclass(frozen=True, slots=True)
class LogSummary:
    lines: int
    patterns: list[Pattern]
    stack_traces: list[str]


def summarize(current: Sequence[str], previous: Sequence[str] = ()) -> LogSummary:
    miner = _miner()
    for line in previous:
        miner.add_log_message(line)
    known = {c.cluster_id: c.size for c in miner.drain.clusters}
    examples: dict[int, str] = {}
    for line in current:
        result = miner.add_log_message(line)
        examples.setdefault(int(result["cluster_id"]), line)
    patterns = []
    for cluster in miner.drain.clusters:
        seen_now = cluster.size - known.get(cluster.cluster_id, 0)
        if seen_now > 0:
            new = cluster.cluster_id not in known
            patterns.append(
                Pattern(cluster.get_template(), seen_now, examples[cluster.cluster_id], new)
            )
    patterns.sort(key=lambda p: (not p.new, -p.count))
    return LogSummary(len(current), patterns[:TOP], stack_traces(current))


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.5
    return TemplateMiner(config=config)


def stack_traces(lines: Sequence[str], limit: int = 3) -> list[str]:
    """Whole traces, the first ``limit``: Python's (``Traceback``, frames, the exception line
    that ends it) and Java's (the exception line, then ``at`` frames)."""
    traces: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        starts = TRACE_START.match(line.strip()) is not None
        if current is not None and TRACE_LINE.match(line):
            current.append(line)
        elif current is not None and starts and current[0].startswith("Traceback"):
            current.append(line)  # the exception line closes a Python traceback
            current = None
        elif starts:
            current = [line]
            traces.append(current)
        else:
            current = None
    return ["\n".join(t) for t in traces if len(t) > 1][:limit]
