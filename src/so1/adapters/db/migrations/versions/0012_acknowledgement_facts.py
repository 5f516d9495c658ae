"""Acknowledgement is a fact: an incident records who acknowledged it and through what
(``acknowledged_by``, ``acknowledged_via``), and ``acknowledged_at`` is set only by an
acknowledgement.

Before this revision every status change stamped ``acknowledged_at``. The backfill keeps the
acknowledgements the record proves (an ``incident.acknowledged`` event, whose actor becomes
``acknowledged_by``, or an acknowledged alert of the incident) and clears the invented ones.
It reads the rows in Python, which keeps the SQL portable (SQLite and PostgreSQL).

Revision ID: 0012_acknowledgement_facts
Revises: 0011
Create Date: 2026-12-05 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_acknowledgement_facts"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("acknowledged_via", sa.String(20), nullable=True))
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    acked = list(
        conn.execute(
            sa.text("SELECT id FROM incidents WHERE acknowledged_at IS NOT NULL")
        ).scalars()
    )
    by_person = _first_actors(conn)
    by_alert = set(
        conn.execute(
            sa.text(
                "SELECT DISTINCT incident_id FROM alerts"
                " WHERE incident_id IS NOT NULL AND acknowledged_at IS NOT NULL"
            )
        ).scalars()
    )
    for incident_id in acked:
        if incident_id in by_person:
            conn.execute(
                sa.text("UPDATE incidents SET acknowledged_by = :by WHERE id = :id"),
                {"by": by_person[incident_id], "id": incident_id},
            )
        elif incident_id not in by_alert:  # stamped by a status change: not an acknowledgement
            conn.execute(
                sa.text("UPDATE incidents SET acknowledged_at = NULL WHERE id = :id"),
                {"id": incident_id},
            )


def _first_actors(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(
        sa.text(
            "SELECT incident_id, actor FROM timeline_events"
            " WHERE kind = 'incident.acknowledged' ORDER BY occurred_at DESC"
        )
    ).all()
    return {str(row[0]): str(row[1]) for row in rows}  # the earliest one is written last


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("acknowledged_via")
        batch.drop_column("acknowledged_by")
