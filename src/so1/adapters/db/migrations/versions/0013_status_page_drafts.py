"""Status-page notices that wait for a person: the incident's customer-facing summary (what
the public notice says, never the internal title). Drafts themselves are outbox rows with the
status ``draft`` (no schema change).

Revision ID: 0013_status_page_drafts
Revises: 0011
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_status_page_drafts"
down_revision = "0012_acknowledgement_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("customer_summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("customer_summary")
