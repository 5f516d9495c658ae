"""Tables for on-call: schedules (layers as JSON), overrides, time off, escalation policies,
and the runbook alarms already raised. People and teams live in tables.py."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from so1.adapters.db.columns import Json, UTCDateTime, metadata

schedules = Table(
    "oncall_schedules",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("team", String(100)),
    Column("timezone", String(64), nullable=False),
    Column("layers", Json, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

overrides = Table(
    "oncall_overrides",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("schedule", ForeignKey("oncall_schedules.name", ondelete="CASCADE"), nullable=False),
    Column("handle", String(100), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_oncall_overrides_schedule", "schedule", "ends_at"),
)

time_off = Table(
    "time_off",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handle", ForeignKey("people.handle", ondelete="CASCADE"), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_time_off_ends", "ends_at"),
)

escalation_policies = Table(
    "escalation_policies",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("levels", Json, nullable=False),
    Column("repeats", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per late runbook check (and deadline of a recurring one) already escalated: the
# primary key makes the escalation fire once, whatever the number of workers or restarts.
runbook_alarms = Table(
    "runbook_alarms",
    metadata,
    Column(
        "incident_id",
        ForeignKey("incidents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("check_id", String(50), primary_key=True),
    Column("occurrence", BigInteger, primary_key=True, autoincrement=False),
    Column("fired_at", UTCDateTime(), nullable=False),
)
