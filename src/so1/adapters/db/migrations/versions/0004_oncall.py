"""On-call: schedules, overrides, time off, escalation policies; people.seniority,
teams.lead and teams.escalation_policy; runbook alarms (late checks escalated once); outbox fields on communications; services.public_name
(the name customers know a service by, for the status page).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("communications") as batch:
        batch.add_column(sa.Column("kind", sa.String(30), nullable=False, server_default="message"))
        batch.add_column(sa.Column("target", sa.String(100), nullable=True))
        batch.add_column(sa.Column("payload", _JSON, nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("vendor_ref", sa.String(200), nullable=True))
    op.create_index("ix_communications_due", "communications", ["status", "next_attempt_at"])
    op.create_index("ix_communications_vendor_ref", "communications", ["vendor_ref"])
    acked = sa.text("acknowledged_at IS NOT NULL")
    op.create_index(
        "ix_alerts_incident_acked",
        "alerts",
        ["incident_id", "acknowledged_at"],
        sqlite_where=acked,
        postgresql_where=acked,
    )
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("public_name", sa.String(100), nullable=True))
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column("seniority", sa.String(20), nullable=False, server_default="engineer")
        )
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("lead", sa.String(100), nullable=True))
        batch.add_column(sa.Column("escalation_policy", sa.String(100), nullable=True))
    op.create_table(
        "oncall_schedules",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("layers", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oncall_schedules")),
    )
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False),
        sa.Column("handle", sa.String(100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule"],
            ["oncall_schedules.name"],
            name=op.f("fk_oncall_overrides_schedule_oncall_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_overrides")),
    )
    op.create_index("ix_oncall_overrides_schedule", "oncall_overrides", ["schedule", "ends_at"])
    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handle"],
            ["people.handle"],
            name=op.f("fk_time_off_handle_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    op.create_index("ix_time_off_ends", "time_off", ["ends_at"])
    op.create_table(
        "runbook_alarms",
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("check_id", sa.String(50), nullable=False),
        sa.Column("occurrence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_runbook_alarms_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "incident_id", "check_id", "occurrence", name=op.f("pk_runbook_alarms")
        ),
    )
    op.create_table(
        "escalation_policies",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("levels", _JSON, nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_escalation_policies")),
    )


def downgrade() -> None:
    op.drop_table("escalation_policies")
    op.drop_table("runbook_alarms")
    op.drop_index("ix_time_off_ends", table_name="time_off")
    op.drop_table("time_off")
    op.drop_index("ix_oncall_overrides_schedule", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
    op.drop_table("oncall_schedules")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("escalation_policy")
        batch.drop_column("lead")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("seniority")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("public_name")
    op.drop_index("ix_alerts_incident_acked", table_name="alerts")
    op.drop_index("ix_communications_due", table_name="communications")
    op.drop_index("ix_communications_vendor_ref", table_name="communications")
    with op.batch_alter_table("communications") as batch:
        for column in ("vendor_ref", "next_attempt_at", "payload", "target", "kind"):
            batch.drop_column(column)
