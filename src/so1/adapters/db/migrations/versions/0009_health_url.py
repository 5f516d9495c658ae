"""Services' own health checks: the URL SO1 probes while a service has open incidents (the
runbook's "Service health checks passing" gate). Probe results are metric samples.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("health_url", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("health_url")
