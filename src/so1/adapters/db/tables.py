"""Table definitions (SQLAlchemy Core); the schema itself is created by Alembic migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from so1.adapters.db.columns import Json, UTCDateTime, metadata

SEVERITIES = "'SEV0','SEV1','SEV2','SEV3','SEV4'"
STATUSES = "'triggered','investigating','identified','mitigating','monitoring','resolved','closed'"
ROLES = "'commander','backup','scribe','comms_lead','responder'"


def _now_col(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable)


teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("slack_channel", String(100)),
    Column("lead", String(100)),
    Column("escalation_policy", String(100)),
    _now_col("created_at"),
)

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handle", String(100), nullable=False, unique=True),
    Column("name", String(200)),
    Column("email", String(320)),
    Column("slack_id", String(50)),
    Column("phone", String(50)),
    Column("team_id", ForeignKey("teams.id", ondelete="SET NULL")),
    Column("seniority", String(20), nullable=False, server_default="engineer"),
    _now_col("created_at"),
    Column("role", String(20)),  # the account's role; NULL: not set (keys keep their scopes)
    _now_col("disabled_at", nullable=True),
)

services = Table(
    "services",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("tier", String(10), nullable=False),
    Column("owner_team", String(100)),
    Column("users", Integer),
    Column("dependencies", Json, nullable=False),
    Column("baselines", Json, nullable=False),
    Column("platform", String(50)),
    Column("description", Text),
    Column("public_name", String(100)),
    Column("metric_queries", Json, nullable=False, server_default=text("'{}'")),
    Column("health_url", String(500)),
    _now_col("updated_at"),
    CheckConstraint("tier IN ('critical','high','medium','low')", name="tier"),
)

incident_day_counters = Table(
    "incident_day_counters",
    metadata,
    Column("day", Date, primary_key=True),
    Column("last_sequence", Integer, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("service", String(100)),
    Column("summary", Text),
    Column("impact", Json, nullable=False),
    Column("commander", String(100)),
    Column("channel", String(100)),
    Column("resolution_summary", Text),
    Column("customer_summary", Text),  # what the status page says (never the internal title)
    Column("storm", Boolean, nullable=False, server_default="0"),
    # a security incident (its war room is private): hidden from keys without `security`
    Column("private", Boolean, nullable=False, server_default="0"),
    _now_col("detected_at"),
    _now_col("acknowledged_at", nullable=True),
    Column("acknowledged_by", String(100)),  # who acknowledged (only an acknowledgement sets it)
    Column("acknowledged_via", String(20)),  # api, cli, web, slack, pagerduty, integration
    _now_col("declared_at", nullable=True),
    _now_col("mitigated_at", nullable=True),
    _now_col("resolved_at", nullable=True),
    _now_col("closed_at", nullable=True),
    _now_col("created_at"),
    _now_col("updated_at"),
    Column("version", Integer, nullable=False),
    CheckConstraint(f"severity IN ({SEVERITIES})", name="severity"),
    CheckConstraint(f"status IN ({STATUSES})", name="status"),
    Index("ix_incidents_status_severity", "status", "severity"),
    Index("ix_incidents_service", "service"),
    Index("ix_incidents_created_at", "created_at"),
    Index("ix_incidents_private", "private"),
)

severity_changes = Table(
    "severity_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("from_severity", String(4)),
    Column("to_severity", String(4), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("reason", Text),
    _now_col("changed_at"),
    Index("ix_severity_changes_incident", "incident_id"),
)

participants = Table(
    "participants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("handle", String(100), nullable=False),
    Column("person_id", ForeignKey("people.id", ondelete="SET NULL")),
    Column("role", String(20), nullable=False),
    _now_col("assumed_at"),
    _now_col("renounced_at", nullable=True),
    CheckConstraint(f"role IN ({ROLES})", name="role"),
    Index("ix_participants_incident", "incident_id"),
)

timeline_events = Table(
    "timeline_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    _now_col("occurred_at"),
    Column("kind", String(50), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", Json, nullable=False),
    Index("ix_timeline_incident_time", "incident_id", "occurred_at", "id"),
)

communications = Table(
    "communications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(50), nullable=False),
    Column("audience", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    _now_col("created_at"),
    _now_col("sent_at", nullable=True),
    # Outbox fields: what kind of message, for whom, vendor payload, when to try again.
    Column("kind", String(30), nullable=False, server_default="message"),
    Column("target", String(100)),
    Column("payload", Json),
    _now_col("next_attempt_at", nullable=True),
    Column("vendor_ref", String(200)),  # the vendor's id of what was sent (Slack channel:ts)
    Index("ix_communications_incident", "incident_id"),
    Index("ix_communications_vendor_ref", "vendor_ref"),
    Index("ix_communications_due", "status", "next_attempt_at"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("service", String(100), nullable=False),
    Column("version", String(100), nullable=False),
    Column("commit_sha", String(64)),
    Column("deployed_by", String(100)),
    _now_col("deployed_at"),
    Column("status", String(20), nullable=False),
    Column("platform", String(50)),
    Column("platform_deployment_id", String(100)),
    Column("config", Json, nullable=False),
    Column("notes", Text),
    Index("ix_deployments_service_time", "service", "deployed_at"),
    Index("ix_deployments_time", "deployed_at"),
)

feature_flags = Table(
    "feature_flags",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("description", Text),
    Column("service", String(100)),
    _now_col("updated_at"),
    Column("updated_by", String(100), nullable=False),
)

feature_flag_changes = Table(
    "feature_flag_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", ForeignKey("feature_flags.key", ondelete="CASCADE"), nullable=False),
    Column("enabled_before", Boolean),
    Column("enabled_after", Boolean, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("reason", Text),
    _now_col("changed_at"),
    Index("ix_flag_changes_key", "key", "changed_at"),
)

action_items = Table(
    "action_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE")),
    Column("alert_id", String(40)),  # a SEV4 ticket comes from an alert, without an incident
    Column("title", Text, nullable=False),
    Column("owner", String(100)),
    Column("due_date", Date),
    Column("priority", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    _now_col("created_at"),
    Index("ix_action_items_incident", "incident_id"),
)

agent_runs = Table(
    "agent_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent", String(50), nullable=False),
    Column("status", String(20), nullable=False),
    Column("inputs", Json, nullable=False),
    Column("output", Json),
    Column("error", Text),
    Column("actor", String(100), nullable=False),
    Column("incident_id", String(32)),
    _now_col("started_at"),
    _now_col("finished_at", nullable=True),
    Index("ix_agent_runs_incident", "incident_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Json, nullable=False),
    _now_col("created_at"),
    _now_col("expires_at", nullable=True),
    _now_col("revoked_at", nullable=True),
    _now_col("last_used_at", nullable=True),
    Column("rotated_from", String(32)),
    Column("person", String(100)),  # whose key: the two-person rule compares persons
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    _now_col("at"),
    Column("actor", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("resource_type", String(50), nullable=False),
    Column("resource_id", String(100)),
    Column("source_ip", String(64)),
    Column("outcome", String(20), nullable=False),
    Column("detail", Json, nullable=False),
    Column("incident_id", String(32)),  # the incident the change concerns, if any
    Index("ix_audit_at", "at"),
    Index("ix_audit_incident", "incident_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("principal", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("content_type", String(100)),
    Column("body", LargeBinary),
    _now_col("created_at"),
    UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),
)
