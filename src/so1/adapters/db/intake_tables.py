"""Tables for alert intake: integrations and their secrets, raw deliveries, alerts,
correlation rules and silences."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from so1.adapters.db.columns import Json, UTCDateTime, metadata

integrations = Table(
    "integrations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source", String(30), nullable=False),
    Column("name", String(100), nullable=False),
    # Signing secrets must be recoverable to compute HMACs; tokens likewise for constant-time
    # comparison. Sealed with SO1_SECRET_KEY when it is set (adapters/db/secret_box.py).
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_valid_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("rotated_at", UTCDateTime()),
    Column("disabled_at", UTCDateTime()),
    UniqueConstraint("source", "name", name="uq_integrations_source_name"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(30), nullable=False),
    Column("integration_id", String(40)),
    Column("delivery_key", String(300)),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("headers", Json, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("detail", Text),
    UniqueConstraint("source", "delivery_key", name="uq_deliveries_source_key"),
    Index("ix_deliveries_received", "received_at"),
)

OPEN_ALERT = text("status <> 'resolved'")

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source", String(30), nullable=False),
    Column("dedup_key", String(255), nullable=False),
    Column("status", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("service", String(100)),
    Column("metric", String(200)),
    Column("current_value", String(100)),
    Column("threshold", String(100)),
    Column("severity_hint", String(20)),
    Column("labels", Json, nullable=False),
    Column("details", Json, nullable=False),
    Column("is_test", Boolean, nullable=False),
    Column("dedup_count", Integer, nullable=False),
    Column("flap_count", Integer, nullable=False, server_default="0"),
    Column("integration_id", String(40)),
    Column("incident_id", ForeignKey("incidents.id", ondelete="SET NULL")),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    Column("closed_reason", Text),
    # Work queue for triage/correlation: pending → done; claimed_at recovers crashed work.
    Column("triage_state", String(20), nullable=False),
    Column("triage_claimed_at", UTCDateTime()),
    Column("triage_run_id", String(40)),
    # When SO1 stored the alert (never changes): PostgreSQL partitions alerts by week on it.
    Column("stored_at", UTCDateTime(), nullable=False, server_default=func.now()),
    # SQLite only: on PostgreSQL the partitioned table cannot hold it; alert_open_keys does.
    Index(
        "uq_alerts_open_identity",
        "source",
        "dedup_key",
        unique=True,
        sqlite_where=OPEN_ALERT,
        postgresql_where=OPEN_ALERT,
    ),
    Index("ix_alerts_source_dedup", "source", "dedup_key"),
    # Serves "alerts of an incident" and the correlation probe (incident, service, window).
    Index("ix_alerts_incident_service_seen", "incident_id", "service", "last_seen_at"),
    # Small: only acknowledged alerts; the runbook clock asks for an incident's first ack.
    Index(
        "ix_alerts_incident_acked",
        "incident_id",
        "acknowledged_at",
        sqlite_where=text("acknowledged_at IS NOT NULL"),
        postgresql_where=text("acknowledged_at IS NOT NULL"),
    ),
    Index("ix_alerts_triage", "triage_state", "first_seen_at"),
    Index("ix_alerts_service_seen", "service", "last_seen_at"),
    Index("ix_alerts_last_seen", "last_seen_at"),
)

# PostgreSQL: the open alert of each identity (the partitioned alerts table cannot hold a
# unique index without its partition key). Written with the alert, in its transaction.
alert_open_keys = Table(
    "alert_open_keys",
    metadata,
    Column("source", String(30), primary_key=True),
    Column("dedup_key", String(255), primary_key=True),
    Column("alert_id", String(40), nullable=False),
    Column("stored_at", UTCDateTime(), nullable=False),
)

# PostgreSQL: the last resolved alert of each identity (flap counting), found without
# looking through every week of alerts.
alert_last_resolved = Table(
    "alert_last_resolved",
    metadata,
    Column("source", String(30), primary_key=True),
    Column("dedup_key", String(255), primary_key=True),
    Column("alert_id", String(40), nullable=False),
    Column("stored_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=False),
    Index("ix_alert_last_resolved_resolved", "resolved_at"),
)

# PostgreSQL: the last delivery of each redelivery key, for the 24 h dedup (the partitioned
# deliveries table holds no unique constraint; on SQLite uq_deliveries_source_key does).
delivery_keys = Table(
    "delivery_keys",
    metadata,
    Column("source", String(30), primary_key=True),
    Column("delivery_key", String(300), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_delivery_keys_received", "received_at"),
)

correlation_rules = Table(
    "correlation_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("group_by", Json, nullable=False),
    Column("follow_dependencies", Boolean, nullable=False),
    Column("window_seconds", Integer, nullable=False),
    Column("storm_threshold", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("matchers", Json, nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expired_at", UTCDateTime()),
    Index("ix_silences_window", "starts_at", "ends_at"),
)

__all__ = [
    "alert_last_resolved",
    "alert_open_keys",
    "alerts",
    "correlation_rules",
    "deliveries",
    "delivery_keys",
    "integrations",
    "silences",
]
