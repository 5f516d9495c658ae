"""Bodies of the admin API: API keys, integrations, login links, and the server's state."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from so1.domain.access import ApiKey, Scope
from so1.domain.alerts import AlertSource
from so1.domain.intake import Integration
from so1.entrypoints.api.schemas import Strict

KeyName = Field(min_length=1, max_length=100, description="who or what uses the key")
GraceSeconds = Field(default=None, ge=0, le=90 * 86_400)


class KeyIn(Strict):
    name: str = KeyName
    scopes: list[Scope] = Field(min_length=1, description="read, write, deploy, security, admin")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    person: str | None = Field(
        default=None,
        max_length=100,
        description="the person the key belongs to (a handle); the two-person rule compares them",
    )


class KeyOut(BaseModel):
    id: str
    name: str
    person: str | None
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_from: str | None
    service: bool = Field(description="a service key: no person holds it (a bot, an integration)")

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id,
            name=key.name,
            person=key.person,
            scopes=sorted(s.value for s in key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            rotated_from=key.rotated_from,
            service=key.is_service_key,
        )


class MyKeyOut(KeyOut):
    effective_scopes: list[str] = Field(
        description="what the key may do now: its scopes bounded by its person's role"
    )
    role: str | None = Field(description="its person's role, when one bounds the key")

    @classmethod
    def of_effective(cls, stored: ApiKey, effective: ApiKey) -> MyKeyOut:
        return cls(
            **KeyOut.of(stored).model_dump(),
            effective_scopes=sorted(s.value for s in effective.scopes),
            role=effective.role.value if effective.role else None,
        )


class IssuedKeyOut(KeyOut):
    token: str = Field(description="the key itself: shown in this answer only")


class RotateKeyIn(Strict):
    grace_seconds: int | None = GraceSeconds


class RotatedKeyOut(IssuedKeyOut):
    old_key_expires_at: datetime | None


class IntegrationIn(Strict):
    source: AlertSource
    name: str | None = Field(default=None, min_length=1, max_length=100)
    secret: str | None = Field(
        default=None, description="the vendor's signing secret, if it made one"
    )


class RotateIntegrationIn(Strict):
    secret: str | None = None
    grace_seconds: int | None = GraceSeconds


class IntegrationOut(BaseModel):
    id: str
    source: str
    name: str
    created_at: datetime
    rotated_at: datetime | None
    previous_valid_until: datetime | None
    disabled_at: datetime | None

    @classmethod
    def of(cls, integration: Integration) -> IntegrationOut:
        return cls(
            id=integration.id,
            source=integration.source.value,
            name=integration.name,
            created_at=integration.created_at,
            rotated_at=integration.rotated_at,
            previous_valid_until=integration.previous_valid_until,
            disabled_at=integration.disabled_at,
        )


class IntegrationSecretOut(IntegrationOut):
    secret: str = Field(description="shown in this answer only")


class LoginLinkIn(Strict):
    key_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="sign in as this key (admin only); default: the calling key",
    )


class LoginLinkOut(BaseModel):
    path: str = Field(description="open it on this server within 15 minutes; it works once")
    key_name: str
    expires_at: datetime


class DatabaseOut(BaseModel):
    url: str = Field(description="without its password")
    dialect: str
    revision: str | None
    latest_revision: str | None


class JobOut(BaseModel):
    name: str
    alive: bool
    passes: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_error: str | None
    failures_in_a_row: int


class QueueOut(BaseModel):
    waiting: int
    oldest: datetime | None


class BackgroundOut(BaseModel):
    setting: str = Field(description="SO1_BACKGROUND: server or worker")
    engine: str = Field(description="what runs the jobs in this process; empty when none")
    jobs: list[JobOut]
    queues: dict[str, QueueOut]
    problems: list[str]


class SystemOut(BaseModel):
    version: str
    database: DatabaseOut
    background: BackgroundOut
