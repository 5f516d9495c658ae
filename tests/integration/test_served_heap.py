"""A served app (`so1 serve`) freezes its start-up heap once started; an app built for a test
does not (a frozen object is never collected, which would leak the test process's garbage)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.entrypoints.api import app as app_module


@pytest.mark.parametrize(("served", "frozen"), [(True, 1), (False, 0)])
def test_only_a_served_app_freezes_its_heap_when_it_starts(
    container: Container, monkeypatch: pytest.MonkeyPatch, served: bool, frozen: int
) -> None:
    calls: list[str] = []

    def freeze() -> int:
        calls.append("frozen")
        return 0

    monkeypatch.setattr(app_module, "freeze_startup_heap", freeze)
    monkeypatch.setattr(container.settings, "access_log", False)
    app = app_module.create_app(container, served=served)
    assert calls == []  # not before the process starts serving
    with TestClient(app) as client:
        assert client.get("/v1/health").status_code == 200
    assert len(calls) == frozen


def test_freezing_takes_the_start_up_objects_out_of_the_collector() -> None:
    program = (
        "import gc; import so1.entrypoints.api.app\n"
        "from so1.entrypoints.heap import freeze_startup_heap\n"
        "before = len(gc.get_objects(2)); frozen = freeze_startup_heap()\n"
        "print(before, frozen, len(gc.get_objects(2)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    before, frozen, after = map(int, done.stdout.split())
    assert frozen > 50_000 and frozen >= before
    assert after < before / 100  # a full collection now walks almost nothing
