"""Analytics against a hand-computed set of 20 incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from so1.adapters.clock import FixedClock
from so1.bootstrap import Container
from tests.e2e.conftest import Cli

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
SEVERITIES = ["SEV1", "SEV2", "SEV2", "SEV3"]  # by i % 4
SERVICES = ["api", "billing"]  # by i % 2


def make_twenty(api: TestClient, clock: FixedClock) -> None:
    """Incident i (0..19): detected on day 3i (January to March), acknowledged after i+1
    minutes, monitoring (mitigated) after 10+i, resolved after 30+2i; every fifth one is
    never resolved."""
    for i in range(20):
        detected = T0 + timedelta(days=3 * i)
        clock.set(detected)
        made = api.post(
            "/v1/incidents",
            json={
                "title": f"incident {i}",
                "severity": SEVERITIES[i % 4],
                "service": SERVICES[i % 2],
                "detected_at": detected.isoformat(),
            },
        ).json()
        clock.set(detected + timedelta(minutes=i + 1))
        api.post(f"/v1/incidents/{made['id']}/acknowledge")
        api.patch(f"/v1/incidents/{made['id']}", json={"status": "investigating"})
        clock.set(detected + timedelta(minutes=10 + i))
        moved = api.patch(f"/v1/incidents/{made['id']}", json={"status": "monitoring"})
        assert moved.status_code == 200, moved.text
        if i % 5 != 4:
            clock.set(detected + timedelta(minutes=30 + 2 * i))
            api.patch(f"/v1/incidents/{made['id']}", json={"status": "resolved"})
    clock.set(T0 + timedelta(days=100))


def test_analytics_match_the_hand_computed_figures(
    api: TestClient, container: Container, clock: FixedClock, server_cli: Cli
) -> None:
    make_twenty(api, clock)
    found = api.get(
        "/v1/analytics",
        params={"since": T0.isoformat(), "until": (T0 + timedelta(days=90)).isoformat()},
    ).json()
    assert found["incidents"] == 20
    # MTTA: mean and median of 1..20
    assert found["mtta"] == {
        "mean_minutes": 10.5,
        "median_minutes": 10.5,
        "count": 20,
        "unacknowledged": 0,
    }
    # MTTM: 10..29
    assert found["mttm"] == {"mean_minutes": 19.5, "median_minutes": 19.5, "count": 20}
    # MTTR: 30 + 2i for the 16 resolved (i % 5 != 4): mean 30 + 2 * mean(i) = 30 + 2 * 9
    resolved = [30 + 2 * i for i in range(20) if i % 5 != 4]
    assert found["mttr"]["count"] == 16
    assert found["mttr"]["mean_minutes"] == round(sum(resolved) / 16, 2) == 48.0
    assert found["mttr"]["median_minutes"] == 48.0  # (46 + 50) / 2: i = 8 and 10
    assert found["by_severity"] == {"SEV1": 5, "SEV2": 10, "SEV3": 5}
    assert found["by_service"] == {"api": 10, "billing": 10}
    assert found["by_cause"] == {"unknown": 20}
    months = {m["month"]: m["incidents"] for m in found["by_month"]}
    assert months == {"2024-01": 11, "2024-02": 9}  # days 0..30 and 33..57
    # no war-room message was ever sent: the first-communication check is missed by all
    assert max(found["checks_missed"].values()) == 20

    later = api.get(
        "/v1/analytics",
        params={
            "since": (T0 + timedelta(days=30)).isoformat(),
            "until": (T0 + timedelta(days=90)).isoformat(),
        },
    )
    assert later.json()["incidents"] == 10  # days 30, 33, ..., 57
    bad = api.get("/v1/analytics", params={"since": T0.isoformat(), "until": T0.isoformat()})
    assert bad.status_code == 422
    assert api.get("/v1/analytics", params={"since": "0001-01-01T00:00:00Z"}).status_code == 422

    report = json.loads(server_cli("report", "--days", "365", "--json").assert_ok().stdout)
    assert report["mtta"]["mean_minutes"] == 10.5
