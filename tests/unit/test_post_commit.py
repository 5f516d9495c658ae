"""Post-commit work has one path: services add domain events to the unit of work and the one
dispatcher wakes jobs (no entrypoint wakes anything), and the timeline and the outbox each
have one writer (so every timeline line has its audit row, and every message wakes delivery)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "so1"

# pattern → the only modules (relative to src/so1) allowed to contain it
ONLY_IN: dict[str, set[str]] = {
    r"\.timeline\.add(_many)?\(": {"services/incidents/recording.py"},  # record(), record_many()
    r"\.outbox\.add\(": {"services/declaration/outbox.py"},  # queue_message()
    r"\bwake_worker\b|\bwake_job\b": set(),  # gone: the dispatcher wakes jobs
    r"\.wake\(": {  # the dispatcher, the delivery pass that continues itself, the runners
        "services/background.py",
        "adapters/jobs/threads.py",
        "adapters/jobs/procrastinate_runner.py",
        "adapters/jobs/child.py",
    },
}


def offenders(root: Path, pattern: str, allowed: set[str]) -> list[str]:
    found = re.compile(pattern)
    return sorted(
        f"{module.relative_to(root)}:{number}"
        for module in root.rglob("*.py")
        if str(module.relative_to(root)) not in allowed
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1)
        if found.search(line)
    )


@pytest.mark.parametrize("pattern", sorted(ONLY_IN))
def test_one_writer_and_one_waker(pattern: str) -> None:
    assert offenders(SRC, pattern, ONLY_IN[pattern]) == []


def test_the_check_finds_a_stray_call(tmp_path: Path) -> None:
    (tmp_path / "entrypoints").mkdir()
    (tmp_path / "entrypoints" / "route.py").write_text(
        "def post(container, uow):\n"
        "    uow.timeline.add(event)\n"
        "    container.wake_worker()\n"
        "    container.jobs.dispatcher.wake('delivery')\n"
    )
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "background.py").write_text("runner.wake(name)\n")
    assert offenders(tmp_path, r"\.timeline\.add\(", set()) == ["entrypoints/route.py:2"]
    assert offenders(tmp_path, r"\bwake_worker\b", set()) == ["entrypoints/route.py:3"]
    allowed = {"services/background.py"}
    assert offenders(tmp_path, r"\.wake\(", allowed) == ["entrypoints/route.py:4"]
