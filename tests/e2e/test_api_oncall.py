"""On-call through the API and the CLI: import, who is on call, time off, overrides, calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from icalendar import Calendar

from so1.adapters.clock import FixedClock
from tests.e2e.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "oncall.yaml"
# Wednesday of the rotations' first week: 13:00 in Berlin, office hours in UTC.
WEDNESDAY = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def example() -> dict[str, Any]:
    """The documented example, read the way `so1 oncall load` reads it (all text)."""
    data: dict[str, Any] = yaml.load(EXAMPLE.read_text(), Loader=yaml.BaseLoader)
    return data


def load(api: TestClient) -> None:
    response = api.put("/v1/oncall/config", json=example())
    assert response.status_code == 200, response.text


def who(api: TestClient, at: datetime = WEDNESDAY) -> dict[str, dict[str, Any]]:
    response = api.get("/v1/oncall", params={"at": at.isoformat()})
    assert response.status_code == 200, response.text
    return {item["schedule"]: item for item in response.json()}


def test_example_loads_and_says_who_is_on_call_now_and_next(api: TestClient) -> None:
    response = api.put("/v1/oncall/config", json=example())
    assert response.json()["imported"]["people"] == {"created": 6, "updated": 0}
    again = api.put("/v1/oncall/config", json=example()).json()["imported"]
    assert again["schedules"] == {"created": 0, "updated": 3}

    found = who(api)
    primary = found["backend-primary"]
    assert (primary["now"]["handle"], primary["now"]["via"]) == ("oncall-backend", "layer weekly")
    assert primary["now"]["backups"] == ["bo", "cy"]
    # Next Monday 09:00 in Berlin (CET, UTC+1) is 08:00 UTC.
    assert primary["now"]["until"].startswith("2026-01-12T08:00:00")
    assert (primary["next"]["handle"], primary["next"]["starts_at"][:16]) == (
        "bo",
        "2026-01-12T08:00",
    )
    assert found["backend-secondary"]["now"]["handle"] == "bo"
    assert found["platform"]["now"]["via"] == "layer office-hours"
    evening = who(api, WEDNESDAY.replace(day=6, hour=20))["platform"]["now"]  # Tuesday
    assert (evening["handle"], evening["via"]) == ("bo", "layer round-the-clock")

    teams = {t["name"]: t for t in api.get("/v1/teams").json()}
    assert teams["backend"]["lead"] == "eng-lead"
    people = {p["handle"]: p for p in api.get("/v1/people").json()}
    assert (people["cto"]["seniority"], people["bo"]["team"]) == ("executive", "backend")
    policy = api.get("/v1/escalation-policies").json()[0]
    assert [lvl["timeout_minutes"] for lvl in policy["levels"]] == [5, 10, 15, 15]
    assert policy["levels"][2]["targets"] == [{"person": "eng-lead"}]


def test_time_off_hands_over_to_the_backup_and_an_override_wins(api: TestClient) -> None:
    load(api)
    away = {"start": "2026-01-07T00:00:00Z", "end": "2026-01-08T00:00:00Z", "reason": "PTO"}
    made = api.post("/v1/people/oncall-backend/time-off", json=away)
    assert made.status_code == 201, made.text
    now = who(api)["backend-primary"]["now"]
    assert (now["handle"], now["skipped"], now["backups"]) == ("bo", ["oncall-backend"], ["cy"])

    cover = {"handle": "cy", "start": "2026-01-07T06:00:00Z", "end": "2026-01-07T18:00:00Z"}
    override = api.post("/v1/schedules/backend-primary/overrides", json=cover)
    assert override.status_code == 201, override.text
    now = who(api)["backend-primary"]["now"]
    assert (now["handle"], now["via"]) == ("cy", "override")
    shown = api.get("/v1/schedules/backend-primary").json()["overrides"]
    assert [o["handle"] for o in shown] == ["cy"]

    gone = api.delete(f"/v1/schedules/backend-primary/overrides/{override.json()['id']}")
    assert gone.status_code == 204
    assert who(api)["backend-primary"]["now"]["handle"] == "bo"
    assert api.delete(f"/v1/time-off/{made.json()['id']}").status_code == 204
    assert who(api)["backend-primary"]["now"]["handle"] == "oncall-backend"
    assert api.delete(f"/v1/time-off/{made.json()['id']}").status_code == 404


def test_shifts_and_calendar_export(api: TestClient, clock: FixedClock) -> None:
    load(api)
    params = {"start": "2026-01-05T08:00:00Z", "end": "2026-01-26T08:00:00Z"}
    shifts = api.get("/v1/schedules/backend-primary/shifts", params=params).json()
    assert [s["handle"] for s in shifts] == ["oncall-backend", "bo", "cy"]

    clock.set(WEDNESDAY)
    response = api.get("/v1/schedules/backend-primary/calendar.ics", params={"days": 14})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == [
        "On call: Ana Oliveira (backend-primary)",
        "On call: Bo Chen (backend-primary)",
        "On call: Cy Ndlovu (backend-primary)",
    ]
    assert events[1].decoded("dtstart") == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
    assert str(events[1]["attendee"]) == "mailto:bo@example.com"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["schedules"][0]["layers"][0]["members"].append("ghost"), "ghost"),
        (lambda d: d["schedules"][0].update(timezone="Mars/Olympus"), "unknown time zone"),
        (lambda d: d["schedules"][0]["layers"][0].update(shift="5x"), "not a duration"),
        (lambda d: d["people"][0].update(team="nope"), "people.oncall-backend.team"),
        (lambda d: d["teams"][0].update(escalation_policy="missing"), "missing"),
        (
            lambda d: d["escalation_policies"][0]["levels"][0]["targets"][0].update(person="x"),
            "exactly one",
        ),
        (lambda d: d.update(rotas=[]), "rotas"),
    ],
)
def test_bad_documents_are_refused_naming_the_problem(
    api: TestClient, change: Any, needle: str
) -> None:
    document = example()
    change(document)
    response = api.put("/v1/oncall/config", json=document)
    assert response.status_code == 422, response.text
    assert needle in response.text
    assert api.get("/v1/people").json() == []  # nothing half-imported


def test_bad_windows_are_clear_errors(api: TestClient) -> None:
    load(api)
    backwards = {"handle": "cy", "start": "2026-01-08T00:00:00Z", "end": "2026-01-07T00:00:00Z"}
    response = api.post("/v1/schedules/backend-primary/overrides", json=backwards)
    assert (response.status_code, "after" in response.text) == (422, True)
    naive = {"handle": "cy", "start": "2026-01-07T00:00:00", "end": "2026-01-08T00:00:00Z"}
    assert api.post("/v1/schedules/backend-primary/overrides", json=naive).status_code == 422
    stranger = {**backwards, "handle": "ghost", "end": "2026-01-09T00:00:00Z"}
    response = api.post("/v1/schedules/backend-primary/overrides", json=stranger)
    assert (response.status_code, "ghost" in response.text) == (422, True)
    response = api.post("/v1/schedules/nope/overrides", json={**stranger, "handle": "cy"})
    assert response.status_code == 404
    away = {"start": "2026-01-07T00:00:00Z", "end": "2026-01-08T00:00:00Z"}
    assert api.post("/v1/people/ghost/time-off", json=away).status_code == 422
    assert api.get("/v1/schedules/nope/shifts").status_code == 404


def test_cli_loads_the_example_and_shows_who_is_on_call(
    server_cli: Cli, clock: FixedClock, tmp_path: Path
) -> None:
    clock.set(WEDNESDAY)
    loaded = server_cli("oncall", "load", str(EXAMPLE)).assert_ok()
    assert "people: 6 created, 0 updated" in loaded.stdout
    table = server_cli("oncall", "--json").assert_ok()
    assert '"handle": "oncall-backend"' in table.stdout
    out = tmp_path / "primary.ics"
    server_cli("oncall", "calendar", "backend-primary", "-o", str(out), "--days", "7").assert_ok()
    assert out.read_bytes().startswith(b"BEGIN:VCALENDAR")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rotas: []\n")
    assert "expected a mapping" in server_cli("oncall", "load", str(bad)).assert_clean_failure()
