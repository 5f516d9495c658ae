"""Single sign-on: a web session may belong to a person without a key (``key_id`` null,
``person`` set), and each OpenID Connect sign-in under way keeps its state (hashed), nonce
and PKCE verifier until its callback uses it once.

Revision ID: 0015_sso_sessions
Revises: 0014_people_accounts
Create Date: 2026-12-05 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_sso_sessions"
down_revision = "0014_people_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.alter_column("key_id", existing_type=sa.String(40), nullable=True)
        batch.add_column(sa.Column("person", sa.String(100), nullable=True))
    op.create_table(
        "oidc_sign_ins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("oidc_sign_ins")
    op.execute("DELETE FROM web_sessions WHERE key_id IS NULL")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("person")
        batch.alter_column("key_id", existing_type=sa.String(40), nullable=False)
