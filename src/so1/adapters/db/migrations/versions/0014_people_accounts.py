"""People are accounts: a role that bounds their keys, and a disabled stamp that stops their
keys and web sessions. Existing people get no role (their keys keep their own scopes).

Revision ID: 0014_people_accounts
Revises: 0013_status_page_drafts
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_people_accounts"
down_revision = "0013_status_page_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("role", sa.String(20), nullable=True))
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("disabled_at")
        batch.drop_column("role")
