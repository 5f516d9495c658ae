"""Metrics: samples pushed to the builtin metrics source, and per-service PromQL overrides
in the catalog.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "metric_samples",
        sa.Column("service", sa.String(100), primary_key=True),
        sa.Column("metric", sa.String(50), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("value", sa.Double(), nullable=False),
    )
    op.create_index("ix_metric_samples_at", "metric_samples", ["at"])
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column("metric_queries", _JSON, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("metric_queries")
    op.drop_index("ix_metric_samples_at", table_name="metric_samples")
    op.drop_table("metric_samples")
