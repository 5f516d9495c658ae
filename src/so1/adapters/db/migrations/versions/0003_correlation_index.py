"""Correlation probe index: alerts by (incident_id, service, last_seen_at) replaces the
single-column incident index, so finding the open incident of a service is one seek per
open incident instead of a read of every alert of the service in the window.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_alerts_incident_service_seen",
        "alerts",
        ["incident_id", "service", "last_seen_at"],
    )
    op.drop_index("ix_alerts_incident", table_name="alerts")


def downgrade() -> None:
    op.create_index("ix_alerts_incident", "alerts", ["incident_id"])
    op.drop_index("ix_alerts_incident_service_seen", table_name="alerts")
