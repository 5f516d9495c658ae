"""Integrations: create, rotate and disable sender secrets; authenticate inbound requests."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from so1.domain.alerts import AlertSource
from so1.domain.intake import Integration, new_integration_secret
from so1.domain.records import AuditRecord, Outcome
from so1.errors import Conflict, Forbidden, NotFound, So1Error, Unauthorized, ValidationFailed
from so1.ports import Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.incidents.recording import Actor, Change, record
from so1.services.verified_cache import VerifiedCache

SECRET_MAX = 500

# The integrations of each source (by its name) that last accepted a request, so a busy
# sender does not cost a database read (and its secrets' unsealing) per delivery.
IntegrationCache = VerifiedCache[tuple[Integration, ...]]
NO_CACHE = IntegrationCache(0)

# PagerDuty documents 403 for a bad signature (so it does not redeliver); others get 401.
_FORBIDDEN_ON_BAD_SECRET = {AlertSource.PAGERDUTY}


class Verifier(Protocol):
    """The part of a source adapter that checks credentials (see adapters/sources/base.py)."""

    def precheck(self, request: Any) -> None: ...
    def verify(self, request: Any, secret: str) -> bool: ...


def add_integration(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    source: AlertSource,
    name: str,
    secret: str | None = None,
) -> Integration:
    now = clock.now()
    _check_secret(secret)
    integration = Integration(
        id=f"int_{secrets.token_hex(8)}",
        source=source,
        name=name,
        secret=secret or new_integration_secret(source),
        created_at=now,
    )
    with uow_factory() as uow:
        if any(i.name == name for i in uow.intake.integrations(source)):
            raise Conflict(f"a {source} integration named '{name}' already exists")
        uow.intake.add_integration(integration)
        detail = {"source": source.value, "name": name}
        record(
            uow,
            actor,
            now,
            Change("integration.add", "integration", integration.id, "added", detail),
        )
        uow.commit()
    return integration


def _check_secret(secret: str | None) -> None:
    if secret is not None and len(secret) < 8:
        raise ValidationFailed("a secret shorter than 8 characters is too easy to guess", "secret")
    if secret is not None and len(secret) > SECRET_MAX:
        raise ValidationFailed(f"a secret longer than {SECRET_MAX} characters", "secret")


def list_integrations(uow_factory: UnitOfWorkFactory) -> list[Integration]:
    with uow_factory(read_only=True) as uow:
        return uow.intake.integrations()


def rotate_integration(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    actor: Actor,
    integration_id: str,
    grace: timedelta,
    secret: str | None = None,
) -> Integration:
    """New secret; the previous one keeps working for ``grace``."""
    now = clock.now()
    _check_secret(secret)
    with uow_factory() as uow:
        current = uow.intake.integration(integration_id)
        if current is None or current.disabled_at is not None:
            raise NotFound(f"integration {integration_id} does not exist or is disabled")
        rotated = rotate_in(uow, actor, now, current, grace, secret)
        uow.commit()
    return rotated


def rotate_in(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    current: Integration,
    grace: timedelta,
    secret: str | None = None,
) -> Integration:
    """Rotate ``current``'s secret inside the caller's transaction."""
    valid_until = now + grace
    rotated = replace(
        current,
        secret=secret or new_integration_secret(current.source),
        previous_secret=current.secret,
        previous_valid_until=valid_until,
        rotated_at=now,
    )
    uow.intake.update_integration(rotated)
    detail = {"previous_valid_until": valid_until.isoformat()}
    change = Change("integration.rotate", "integration", current.id, "rotated", detail)
    record(uow, actor, now, change)
    return rotated


def disable_integration(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, integration_id: str
) -> None:
    now = clock.now()
    with uow_factory() as uow:
        current = uow.intake.integration(integration_id)
        if current is None:
            raise NotFound(f"integration {integration_id} does not exist")
        uow.intake.update_integration(replace(current, disabled_at=now))
        record(
            uow, actor, now, Change("integration.disable", "integration", current.id, "disabled")
        )
        uow.commit()


def authenticate_source(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    source: AlertSource,
    verifier: Verifier,
    request: Any,
    source_ip: str | None,
    cache: IntegrationCache = NO_CACHE,
) -> Integration:
    """The integration whose secret the request carries; any refusal is audited. The
    integrations ``cache`` vouches for are tried first; a request none of them accepts is
    decided on the database's (and a refusal is only ever decided there)."""
    now = clock.now()
    try:
        verifier.precheck(request)
    except So1Error as exc:
        audit_refusal(uow_factory, now, source, "webhook.refused", exc.detail, source_ip)
        raise
    found = _find(
        uow_factory,
        source,
        cache,
        lambda i: any(verifier.verify(request, s) for s in i.valid_secrets(now)),
    )
    if found is not None:
        return found
    reason = f"no {source} integration accepts this request's credentials"
    audit_refusal(uow_factory, now, source, "webhook.refused", reason, source_ip)
    if source in _FORBIDDEN_ON_BAD_SECRET:
        raise Forbidden("invalid request signature")
    raise Unauthorized("invalid or missing credentials")


def integration_owning(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    source: AlertSource,
    credential: str,
    cache: IntegrationCache = NO_CACHE,
) -> Integration | None:
    """The integration of ``source`` one of whose valid secrets is ``credential`` (the
    routing key of a PagerDuty Events v2 body is both its address and its credential), or
    None. As in authenticate_source, ``cache`` is tried first and a miss reads the database."""
    now = clock.now()
    given = credential.encode()
    return _find(
        uow_factory,
        source,
        cache,
        lambda i: any(hmac.compare_digest(given, s.encode()) for s in i.valid_secrets(now)),
    )


def _find(
    uow_factory: UnitOfWorkFactory,
    source: AlertSource,
    cache: IntegrationCache,
    accepts: Callable[[Integration], bool],
) -> Integration | None:
    """The first of ``source``'s integrations that ``accepts``: those the cache vouches for
    first, then a fresh read (kept in the cache when one of them accepts)."""
    found = next((i for i in cache.get(source.value) or () if accepts(i)), None)
    if found is not None:
        return found
    with uow_factory(read_only=True) as uow:
        candidates = tuple(uow.intake.integrations(source))
    found = next((i for i in candidates if accepts(i)), None)
    if found is not None:
        cache.put(source.value, candidates)
    return found


def audit_refusal(
    uow_factory: UnitOfWorkFactory,
    at: datetime,
    source: AlertSource | str,
    action: str,
    reason: str,
    source_ip: str | None,
) -> None:
    with uow_factory() as uow:
        uow.audit.add(
            AuditRecord(
                at=at,
                actor=f"webhook:{source}",
                action=action,
                resource_type="delivery",
                resource_id=None,
                outcome=Outcome.DENIED,
                source_ip=source_ip,
                detail={"reason": reason},
            )
        )
        uow.commit()


def reseal_secrets(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor) -> dict[str, int]:
    """Write every stored secret again in one transaction, so each is sealed with the first
    key of SO1_SECRET_KEY (or stored in clear when no key is set). Returns counts."""
    with uow_factory() as uow:
        found = uow.intake.integrations()
        for integration in found:
            uow.intake.update_integration(integration)
        servers = uow.web.reseal_secrets()
        counts = {"integrations": len(found), "server_secrets": servers}
        record(
            uow,
            actor,
            clock.now(),
            Change("secrets.resealed", "secrets", "all", "stored secrets written again", counts),
        )
        uow.commit()
    return counts
