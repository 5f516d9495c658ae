"""Alert intake: integrations, raw deliveries, the full alerts table, correlation rules,
silences; incidents.storm; action items may come from an alert without an incident.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:46:36.658621
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "correlation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "group_by", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("follow_dependencies", sa.Boolean(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("storm_threshold", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correlation_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_correlation_rules_name")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("integration_id", sa.String(length=40), nullable=True),
        sa.Column("delivery_key", sa.String(length=300), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "headers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("source", "delivery_key", name="uq_deliveries_source_key"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_received", ["received_at"], unique=False)

    op.create_table(
        "integrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("previous_secret", sa.String(length=255), nullable=True),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("source", "name", name="uq_integrations_source_name"),
    )
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.create_index("ix_integrations_secret", ["secret"], unique=False)

    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "matchers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index("ix_silences_window", ["starts_at", "ends_at"], unique=False)

    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_id", sa.String(length=40), nullable=True))
        batch_op.alter_column("incident_id", existing_type=sa.VARCHAR(length=32), nullable=True)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("metric", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("current_value", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("threshold", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("severity_hint", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column(
                "labels", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
            )
        )
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), nullable=False))
        batch_op.add_column(
            sa.Column("flap_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("integration_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("triage_state", sa.String(length=20), nullable=False))
        batch_op.add_column(
            sa.Column("triage_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("triage_run_id", sa.String(length=40), nullable=True))
        batch_op.alter_column("summary", existing_type=sa.TEXT(), nullable=False)
        batch_op.create_index("ix_alerts_last_seen", ["last_seen_at"], unique=False)
        batch_op.create_index("ix_alerts_service_seen", ["service", "last_seen_at"], unique=False)
        batch_op.create_index("ix_alerts_triage", ["triage_state", "first_seen_at"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_identity",
            ["source", "dedup_key"],
            unique=True,
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        )
        batch_op.drop_column("severity")
        batch_op.drop_column("payload")

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storm", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("storm")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sqlite.JSON(), nullable=False))
        batch_op.add_column(sa.Column("severity", sa.VARCHAR(length=20), nullable=True))
        batch_op.drop_index(
            "uq_alerts_open_identity",
            sqlite_where=sa.text("status <> 'resolved'"),
            postgresql_where=sa.text("status <> 'resolved'"),
        )
        batch_op.drop_index("ix_alerts_triage")
        batch_op.drop_index("ix_alerts_service_seen")
        batch_op.drop_index("ix_alerts_last_seen")
        batch_op.alter_column("summary", existing_type=sa.TEXT(), nullable=True)
        batch_op.drop_column("triage_run_id")
        batch_op.drop_column("triage_claimed_at")
        batch_op.drop_column("triage_state")
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("integration_id")
        batch_op.drop_column("flap_count")
        batch_op.drop_column("is_test")
        batch_op.drop_column("details")
        batch_op.drop_column("labels")
        batch_op.drop_column("severity_hint")
        batch_op.drop_column("threshold")
        batch_op.drop_column("current_value")
        batch_op.drop_column("metric")

    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.drop_column("alert_id")

    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index("ix_silences_window")

    op.drop_table("silences")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_index("ix_integrations_secret")

    op.drop_table("integrations")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_received")

    op.drop_table("deliveries")
    op.drop_table("correlation_rules")
