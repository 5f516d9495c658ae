"""Large tables: on PostgreSQL, ``alerts`` and ``deliveries`` become range-partitioned by
week on when SO1 stored each row (``alerts.stored_at``, new; ``deliveries.received_at``),
with a default partition so no row is ever refused. Retention then drops whole weeks.

A partitioned table holds no unique index without its partition key, so the uniqueness of
an open alert's identity moves to ``alert_open_keys`` and the redelivery keys to
``delivery_keys`` (both written in the transaction that stores the alert or delivery);
``alert_last_resolved`` names each identity's last resolved alert, so flap counting reads
one week's partition instead of every week's.
On SQLite the tables stay as they were (``alerts`` gains ``stored_at``; the three key tables
exist, empty: the unique indexes still do their work there).

The rows are copied into the new tables: on a big table this takes a while (about a minute
per million alerts); run ``so1 db upgrade`` before the rollout.

Revision ID: 0016_weekly_partitions
Revises: 0015_sso_sessions
Create Date: 2026-12-05 23:40:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0016_weekly_partitions"
down_revision = "0015_sso_sessions"
branch_labels = None
depends_on = None

# (table, partition key, primary key, indexes as (name, columns, WHERE))
ALERT_INDEXES = (
    ("ix_alerts_incident_acked", "incident_id, acknowledged_at", "acknowledged_at IS NOT NULL"),
    ("ix_alerts_incident_service_seen", "incident_id, service, last_seen_at", None),
    ("ix_alerts_last_seen", "last_seen_at", None),
    ("ix_alerts_service_seen", "service, last_seen_at", None),
    ("ix_alerts_source_dedup", "source, dedup_key", None),
    ("ix_alerts_triage", "triage_state, first_seen_at", None),
)
OPEN_IDENTITY = (
    "CREATE UNIQUE INDEX uq_alerts_open_identity ON alerts (source, dedup_key)"
    " WHERE status <> 'resolved'"
)
ALERT_FK = (
    "ALTER TABLE alerts ADD CONSTRAINT fk_alerts_incident_id_incidents FOREIGN KEY"
    " (incident_id) REFERENCES incidents (id) ON DELETE SET NULL"
)
HISTORY_WEEKS = 104  # older rows go to the default partition (retention empties it)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _partition_alerts()
        _partition_deliveries()
    else:
        with op.batch_alter_table("alerts") as batch:
            batch.add_column(sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True))
        op.execute("UPDATE alerts SET stored_at = first_seen_at")
        with op.batch_alter_table("alerts") as batch:
            batch.alter_column(
                "stored_at",
                existing_type=sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.now(),
            )
    _key_tables()


def _key_tables() -> None:
    op.create_table(
        "alert_open_keys",
        sa.Column("source", sa.String(30), primary_key=True),
        sa.Column("dedup_key", sa.String(255), primary_key=True),
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "dedup_key", name="pk_alert_open_keys"),
    )
    op.create_table(
        "alert_last_resolved",
        sa.Column("source", sa.String(30), primary_key=True),
        sa.Column("dedup_key", sa.String(255), primary_key=True),
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "dedup_key", name="pk_alert_last_resolved"),
    )
    op.create_index("ix_alert_last_resolved_resolved", "alert_last_resolved", ["resolved_at"])
    op.create_table(
        "delivery_keys",
        sa.Column("source", sa.String(30), primary_key=True),
        sa.Column("delivery_key", sa.String(300), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "delivery_key", name="pk_delivery_keys"),
    )
    op.create_index("ix_delivery_keys_received", "delivery_keys", ["received_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO alert_open_keys SELECT source, dedup_key, id, stored_at FROM alerts"
            " WHERE status <> 'resolved'"
        )
        op.execute(
            "INSERT INTO alert_last_resolved SELECT DISTINCT ON (source, dedup_key)"
            " source, dedup_key, id, stored_at, COALESCE(resolved_at, last_seen_at) FROM alerts"
            " WHERE status = 'resolved'"
            " ORDER BY source, dedup_key, COALESCE(resolved_at, last_seen_at) DESC"
        )
        op.execute(
            "INSERT INTO delivery_keys SELECT source, delivery_key, max(received_at)"
            " FROM deliveries WHERE delivery_key IS NOT NULL GROUP BY source, delivery_key"
        )


def _partition_alerts() -> None:
    op.execute(
        "CREATE TABLE alerts_0016 (LIKE alerts INCLUDING DEFAULTS,"
        " stored_at timestamptz NOT NULL DEFAULT now()) PARTITION BY RANGE (stored_at)"
    )
    _weeks("alerts", "alerts_0016", "first_seen_at")
    op.execute("INSERT INTO alerts_0016 SELECT *, first_seen_at FROM alerts")
    op.execute("DROP TABLE alerts")
    op.execute("ALTER TABLE alerts_0016 RENAME TO alerts")
    op.execute("ALTER TABLE alerts ADD CONSTRAINT pk_alerts PRIMARY KEY (id, stored_at)")
    _alert_indexes()
    op.execute(ALERT_FK)


def _alert_indexes() -> None:
    for name, columns, where in ALERT_INDEXES:
        op.execute(f"CREATE INDEX {name} ON alerts ({columns})" + (f" WHERE {where}" * bool(where)))


def _partition_deliveries() -> None:
    op.execute(
        "CREATE TABLE deliveries_0016 (LIKE deliveries INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (received_at)"
    )
    _weeks("deliveries", "deliveries_0016", "received_at")
    op.execute("INSERT INTO deliveries_0016 SELECT * FROM deliveries")
    op.execute("ALTER SEQUENCE deliveries_id_seq OWNED BY NONE")  # else it goes with the table
    op.execute("DROP TABLE deliveries")
    op.execute("ALTER TABLE deliveries_0016 RENAME TO deliveries")
    op.execute("ALTER SEQUENCE deliveries_id_seq OWNED BY deliveries.id")
    op.execute("ALTER TABLE deliveries ADD CONSTRAINT pk_deliveries PRIMARY KEY (id, received_at)")
    op.execute("CREATE INDEX ix_deliveries_received ON deliveries (received_at)")


def _weeks(name: str, parent: str, stamp: str) -> None:
    """A partition for each week holding rows (the last two years), the current and the
    next week, and the default partition."""
    conn = op.get_bind()
    this_week = _week_start(datetime.now(UTC))
    oldest = this_week - timedelta(weeks=HISTORY_WEEKS)
    found = conn.execute(
        sa.text(
            f"SELECT DISTINCT date_trunc('week', {stamp} AT TIME ZONE 'UTC') FROM {name}"
            f" WHERE {stamp} >= :oldest"
        ),
        {"oldest": oldest},
    ).scalars()
    weeks = {w.replace(tzinfo=UTC) for w in found} | {this_week, this_week + timedelta(weeks=1)}
    for start in sorted(weeks):
        end = start + timedelta(weeks=1)
        op.execute(
            f"CREATE TABLE {name}_w{start:%Y%m%d} PARTITION OF {parent}"
            f" FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    op.execute(f"CREATE TABLE {name}_default PARTITION OF {parent} DEFAULT")


def _week_start(at: datetime) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def downgrade() -> None:
    op.drop_table("delivery_keys")
    op.drop_table("alert_last_resolved")
    op.drop_table("alert_open_keys")
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("alerts") as batch:
            batch.drop_column("stored_at")
        return
    op.execute("CREATE TABLE alerts_0015 (LIKE alerts INCLUDING DEFAULTS)")
    op.execute("INSERT INTO alerts_0015 SELECT * FROM alerts")
    op.execute("DROP TABLE alerts CASCADE")
    op.execute("ALTER TABLE alerts_0015 RENAME TO alerts")
    op.execute("ALTER TABLE alerts DROP COLUMN stored_at")
    op.execute("ALTER TABLE alerts ADD CONSTRAINT pk_alerts PRIMARY KEY (id)")
    _alert_indexes()
    op.execute(OPEN_IDENTITY)
    op.execute(ALERT_FK)
    op.execute("CREATE TABLE deliveries_0015 (LIKE deliveries INCLUDING DEFAULTS)")
    op.execute("INSERT INTO deliveries_0015 SELECT * FROM deliveries")
    op.execute("ALTER SEQUENCE deliveries_id_seq OWNED BY NONE")
    op.execute("DROP TABLE deliveries CASCADE")
    op.execute("ALTER TABLE deliveries_0015 RENAME TO deliveries")
    op.execute("ALTER SEQUENCE deliveries_id_seq OWNED BY deliveries.id")
    op.execute("ALTER TABLE deliveries ADD CONSTRAINT pk_deliveries PRIMARY KEY (id)")
    op.execute("CREATE INDEX ix_deliveries_received ON deliveries (received_at)")
    op.execute(  # a key seen again after the redelivery window: retired as SQLite does
        "UPDATE deliveries d SET delivery_key = d.delivery_key || '#' || d.id WHERE EXISTS"
        " (SELECT 1 FROM deliveries e WHERE e.source = d.source"
        " AND e.delivery_key = d.delivery_key AND e.id > d.id)"
    )
    op.execute(
        "ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_source_key"
        " UNIQUE (source, delivery_key)"
    )
