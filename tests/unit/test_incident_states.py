"""The incident status machine, lifecycle stamps and id format (pure domain)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from so1.domain.incidents import (
    ALLOWED_TRANSITIONS,
    AckChannel,
    Incident,
    IncidentStatus,
    acknowledge,
    format_incident_id,
    is_incident_id,
    transition,
)
from so1.domain.severity import SEVERITY_TABLE, Severity
from so1.errors import InvalidTransition, ValidationFailed

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
S = IncidentStatus


def make(status: IncidentStatus = S.TRIGGERED) -> Incident:
    return Incident(
        id="INC-20240115-0042",
        title="API error rate spike",
        status=status,
        severity=Severity.SEV2,
        detected_at=T0,
        created_at=T0,
        updated_at=T0,
    )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_forward_path_stamps_each_milestone_once() -> None:
    inc = make()
    inc = transition(inc, S.INVESTIGATING, at(2))
    inc = transition(inc, S.IDENTIFIED, at(10))
    inc = transition(inc, S.MITIGATING, at(20))
    inc = transition(inc, S.MONITORING, at(25))
    inc = transition(inc, S.RESOLVED, at(55))
    inc = transition(inc, S.CLOSED, at(60))
    assert (inc.acknowledged_at, inc.declared_at, inc.mitigated_at) == (None, at(2), at(25))
    assert (inc.resolved_at, inc.closed_at, inc.status) == (at(55), at(60), S.CLOSED)


def test_only_an_acknowledgement_stamps_acknowledged_at() -> None:
    inc = transition(make(), S.RESOLVED, at(9))
    assert (inc.acknowledged_at, inc.acknowledged_by, inc.acknowledged_via) == (None, None, None)
    acked = acknowledge(transition(make(), S.INVESTIGATING, at(1)), "alice", AckChannel.WEB, at(3))
    assert (acked.acknowledged_at, acked.acknowledged_by, acked.acknowledged_via) == (
        at(3),
        "alice",
        "web",
    )
    again = acknowledge(acked, "bob", AckChannel.SLACK, at(4))
    assert again == acked  # the first acknowledgement stays
    assert transition(acked, S.RESOLVED, at(9)).acknowledged_at == at(3)


def test_back_edge_keeps_first_stamps() -> None:
    inc = transition(transition(make(), S.INVESTIGATING, at(1)), S.MITIGATING, at(5))
    inc = transition(inc, S.MONITORING, at(8))
    inc = transition(inc, S.INVESTIGATING, at(12))  # mitigation failed
    inc = transition(inc, S.MONITORING, at(30))
    assert inc.declared_at == at(1)
    assert inc.mitigated_at == at(8)


@pytest.mark.parametrize("status", [s for s in S if s.is_open])
def test_resolved_reachable_from_every_open_status(status: IncidentStatus) -> None:
    assert S.RESOLVED in ALLOWED_TRANSITIONS[status]
    assert transition(make(status), S.RESOLVED, at(3)).resolved_at == at(3)


def test_closed_is_final_and_error_names_allowed() -> None:
    with pytest.raises(InvalidTransition) as err:
        transition(make(S.CLOSED), S.INVESTIGATING, at(1))
    assert err.value.allowed == []
    assert "final" in err.value.detail


def test_invalid_transition_lists_allowed_next_statuses() -> None:
    with pytest.raises(InvalidTransition) as err:
        transition(make(S.TRIGGERED), S.CLOSED, at(1))
    assert err.value.allowed == ["investigating", "identified", "mitigating", "resolved"]
    assert "allowed next statuses: investigating" in err.value.detail


def test_reopen_clears_resolution_time() -> None:
    inc = transition(make(S.MONITORING), S.RESOLVED, at(4))
    reopened = transition(inc, S.INVESTIGATING, at(9))
    assert reopened.resolved_at is None
    assert reopened.status is S.INVESTIGATING


def test_explicit_resolution_time_is_kept_and_checked() -> None:
    inc = make(S.MITIGATING)
    assert transition(inc, S.RESOLVED, at(40), resolved_at=at(30)).resolved_at == at(30)
    with pytest.raises(ValidationFailed, match="future"):
        transition(inc, S.RESOLVED, at(40), resolved_at=at(41))
    with pytest.raises(ValidationFailed, match="before the incident was detected"):
        transition(inc, S.RESOLVED, at(40), resolved_at=at(-1))


def test_acknowledged_only_once() -> None:
    inc = replace(make(), acknowledged_at=at(1))
    assert transition(inc, S.INVESTIGATING, at(5)).acknowledged_at == at(1)


def test_incident_id_format() -> None:
    assert format_incident_id(date(2024, 1, 15), 42) == "INC-20240115-0042"
    assert format_incident_id(date(2024, 1, 15), 12345) == "INC-20240115-12345"
    assert is_incident_id("INC-20240115-0042")
    assert not is_incident_id("INC-2024-0042")
    with pytest.raises(ValueError, match="start at 1"):
        format_incident_id(date(2024, 1, 15), 0)


def test_severity_table_matches_runbook() -> None:
    assert SEVERITY_TABLE[Severity.SEV1].response_time == timedelta(minutes=5)
    assert SEVERITY_TABLE[Severity.SEV3].response_time == timedelta(hours=1)
    assert SEVERITY_TABLE[Severity.SEV4].response_time is None
    assert [s for s, lvl in SEVERITY_TABLE.items() if lvl.status_page] == [
        Severity.SEV0,
        Severity.SEV1,
    ]
    assert SEVERITY_TABLE[Severity.SEV0].commander_role == "Engineering lead + Executive"
    assert Severity.SEV0.rank < Severity.SEV4.rank
