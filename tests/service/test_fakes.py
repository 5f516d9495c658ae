"""Each fake is typed as its port here (mypy strict checks that it conforms), and behaves as
services rely on: a job woken runs, an idempotency key is held once, the pager refuses
nothing it paged, a URL guard refuses what it is told to."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from so1.domain.comms import Destination, Outbound
from so1.domain.incidents import Incident, IncidentStatus
from so1.domain.severity import Severity
from so1.ports import (
    CalendarWriter,
    Clock,
    HealthCheck,
    HealthProbe,
    IdempotencyStore,
    Job,
    JobRunner,
    Messenger,
    MetricsSource,
    Platform,
    StoredResponse,
    UrlGuard,
)
from so1.services.postmortem.review import Folder
from tests.fakes import (
    FakeCalendarWriter,
    FakeChat,
    FakeClock,
    FakeFolder,
    FakeHealthCheck,
    FakeHealthProbe,
    FakeIdempotencyStore,
    FakeJobRunner,
    FakeMetricsSource,
    FakePager,
    FakePlatform,
    FakeStatusPage,
    FakeUrlGuard,
)
from tests.service.conftest import NOW


def test_every_vendor_fake_is_typed_as_its_port() -> None:
    messengers: dict[Destination, Messenger] = {
        Destination.WAR_ROOM: FakeChat(),
        Destination.STATUS_PAGE: FakeStatusPage(),
        Destination.PAGER: FakePager(),
    }
    platform: Platform = FakePlatform()
    probe: HealthProbe = FakeHealthProbe()
    guard: UrlGuard = FakeUrlGuard(["169.254.169.254"])
    source: MetricsSource = FakeMetricsSource()
    folder: Folder = FakeFolder()
    calendar: CalendarWriter = FakeCalendarWriter()
    check: HealthCheck = FakeHealthCheck("down: no answer")
    clock: Clock = FakeClock(NOW)

    assert set(messengers) == set(Destination)
    assert platform.name == "fake" and not probe.check("http://x/health").ok
    assert guard.refusal("http://169.254.169.254/latest") == "169.254.169.254 is not allowed"
    assert guard.refusal("https://status.example.com") is None
    assert source is not None and folder is not None and calendar is not None
    assert check() == "down: no answer" and clock.now() == NOW


def test_the_job_runner_runs_each_woken_job_once() -> None:
    passes: list[str] = []
    runner = FakeJobRunner([Job("delivery", lambda: passes.append("delivery"), 5)])
    typed: JobRunner = runner
    typed.wake("delivery")
    typed.wake("delivery")
    assert runner.run_woken() == ["delivery", "delivery"]
    assert passes == ["delivery"]  # one pass for the wake-ups of one commit


def test_an_idempotency_key_is_held_once_and_replays_its_answer() -> None:
    store: IdempotencyStore = FakeIdempotencyStore()
    assert store.claim("k_1", "key-1", "hash-a", NOW) is None
    assert store.claim("k_1", "key-1", "hash-b", NOW) == "hash-a"
    answer = StoredResponse(201, b"{}", "application/json")
    store.complete("k_1", "key-1", answer)
    assert store.stored("k_1", "key-1") == answer
    assert store.claim("k_1", "key-1", "hash-c", NOW + timedelta(days=2)) is None  # expired


def test_the_pager_tracks_pages_by_dedup_key() -> None:
    incident = Incident(
        "INC-1", "API errors", IncidentStatus.TRIGGERED, Severity.SEV2, NOW, NOW, NOW
    )
    payload = {"action": "trigger", "dedup_key": "so1-INC-1-bo"}
    page = Outbound("INC-1", Destination.PAGER, "person", "page", "why", NOW, "bo", payload)
    resolve = replace(page, kind="resolve", payload=payload | {"action": "resolve"})
    pager = FakePager()
    assert pager.deliver(page, incident)["dedup_key"] == "so1-INC-1-bo"
    assert pager.open_pages == {"so1-INC-1-bo"}
    pager.deliver(resolve, incident)
    assert pager.open_pages == set()
    assert pager.kinds() == ["page", "resolve"]
