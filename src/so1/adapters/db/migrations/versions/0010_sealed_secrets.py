"""Stored secrets may be sealed with SO1_SECRET_KEY (``fernet:<token>``, longer than the
secret): integration secrets and server secrets become text. The index on integrations.secret
goes: nothing looks a secret up by value.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.drop_index("ix_integrations_secret")
        batch.alter_column("secret", type_=sa.Text(), existing_nullable=False)
        batch.alter_column("previous_secret", type_=sa.Text(), existing_nullable=True)
    with op.batch_alter_table("server_secrets") as batch:
        batch.alter_column("value", type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("server_secrets") as batch:
        batch.alter_column("value", type_=sa.String(200), existing_nullable=False)
    with op.batch_alter_table("integrations") as batch:
        batch.alter_column("previous_secret", type_=sa.String(255), existing_nullable=True)
        batch.alter_column("secret", type_=sa.String(255), existing_nullable=False)
        batch.create_index("ix_integrations_secret", ["secret"], unique=False)
