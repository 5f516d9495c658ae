"""Security hardening: a security incident is marked on its row (``incidents.private``, set
when its war room opens private) so lists can leave it out in SQL; audit rows name their
incident; API keys name the person they belong to (the two-person rule compares persons); and
web sessions are rows that sign-out revokes.

The backfill reads the ``war_room.opened`` events in Python, which keeps the SQL portable
(SQLite and PostgreSQL read JSON differently).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:30:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("private", sa.Boolean(), nullable=False, server_default="0"))
        batch.create_index("ix_incidents_private", ["private"])
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("incident_id", sa.String(32), nullable=True))
        batch.create_index("ix_audit_incident", ["incident_id"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("person", sa.String(100), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    events = conn.execute(
        sa.text("SELECT incident_id, data FROM timeline_events WHERE kind = 'war_room.opened'")
    ).all()
    private = sorted({str(row[0]) for row in events if _says_private(row[1])})
    for incident_id in private:
        conn.execute(
            sa.text("UPDATE incidents SET private = :yes WHERE id = :id"),
            {"yes": True, "id": incident_id},
        )
    conn.execute(
        sa.text("UPDATE audit_log SET incident_id = resource_id WHERE resource_type = 'incident'")
    )


def _says_private(data: Any) -> bool:
    document = json.loads(data) if isinstance(data, str | bytes) else data
    return isinstance(document, dict) and bool(document.get("private"))


def downgrade() -> None:
    op.drop_table("web_sessions")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("person")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_incident")
        batch.drop_column("incident_id")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_private")
        batch.drop_column("private")
