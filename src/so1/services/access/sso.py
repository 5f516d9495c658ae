"""Single sign-on with OpenID Connect: start a sign-in (state, nonce and PKCE verifier kept
server-side, usable once), and finish it: verify the provider's answer, link it to a person
by verified email (or create a viewer when allowed), apply the role their groups map to, and
open a web session that belongs to the person.

Every refusal raises SignInRefused with a short ``reason`` and is on the audit log as
``auth.failed`` with that reason; a sign-in is ``auth.sso``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from so1.domain.access import Role
from so1.domain.identity import ProviderIdentity, handle_for_email, role_from_groups
from so1.domain.oncall import Person
from so1.domain.records import AuditRecord, Outcome
from so1.errors import SignInRefused
from so1.ports import AuthorizationRequest, Clock, IdentityProvider, UnitOfWork, UnitOfWorkFactory
from so1.services.access import web_sessions
from so1.services.access.accounts import is_last_admin
from so1.services.incidents.recording import Actor, Change, record

SIGN_IN_LIFETIME = timedelta(minutes=10)
SSO_ACTOR = Actor("sso")


@dataclass(frozen=True)
class SsoPolicy:
    """SO1_OIDC_ROLE_MAP (group → role) and SO1_OIDC_AUTO_CREATE."""

    role_map: dict[str, Role] = field(default_factory=dict)
    auto_create: bool = False


@dataclass(frozen=True)
class Callback:
    """What the browser brought back to /login/oidc/callback."""

    state: str
    code: str
    error: str
    browser_state: str  # the state this browser was given (its cookie)
    redirect_uri: str
    source_ip: str | None = None


def begin(
    uow_factory: UnitOfWorkFactory, clock: Clock, provider: IdentityProvider, redirect_uri: str
) -> AuthorizationRequest:
    """The provider's authorization URL; its state, nonce and verifier are kept to match."""
    request = provider.authorization_request(redirect_uri)
    now = clock.now()
    with uow_factory() as uow:
        uow.web.add_sign_in(
            _hash(request.state),
            request.nonce,
            request.code_verifier,
            now + SIGN_IN_LIFETIME,
            now,
        )
        uow.commit()
    return request


def finish(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    provider: IdentityProvider,
    policy: SsoPolicy,
    callback: Callback,
) -> tuple[web_sessions.Session, str]:
    """The person's session and its cookie; raises SignInRefused (audited) otherwise."""
    identity: ProviderIdentity | None = None
    try:
        identity = _verified(uow_factory, clock, provider, callback)
        person = _linked(uow_factory, clock, policy, identity, callback.source_ip)
    except SignInRefused as refused:
        _audit_refusal(uow_factory, clock.now(), refused, callback.source_ip, identity)
        raise
    return web_sessions.start_for_person(uow_factory, clock, person)


def _verified(
    uow_factory: UnitOfWorkFactory, clock: Clock, provider: IdentityProvider, callback: Callback
) -> ProviderIdentity:
    if callback.error:
        raise SignInRefused(
            f"the identity provider refused the sign-in ({callback.error[:100]})", "provider error"
        )
    if not callback.state or not hmac.compare_digest(callback.state, callback.browser_state):
        raise SignInRefused(
            "this sign-in did not start in this browser (state mismatch); start again",
            "state mismatch",
        )
    with uow_factory() as uow:
        kept = uow.web.use_sign_in(_hash(callback.state), clock.now())
        uow.commit()
    if kept is None:
        raise SignInRefused(
            "this sign-in was already used or has expired (replayed state); start again",
            "state replayed or expired",
        )
    if not callback.code:
        raise SignInRefused("the identity provider sent no authorization code", "no code")
    nonce, verifier = kept
    identity = provider.identity(callback.code, callback.redirect_uri, verifier, nonce)
    if not identity.email or not identity.email_verified:
        raise SignInRefused(
            f"the identity provider has not verified the email of {identity.subject}; "
            "SO1 links people by verified email only",
            "email not verified",
        )
    return identity


def _linked(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    policy: SsoPolicy,
    identity: ProviderIdentity,
    source_ip: str | None,
) -> Person:
    """The person with the identity's email (made a viewer when allowed), with the role
    their groups map to; the sign-in is audited in the same transaction."""
    now = clock.now()
    actor = replace(SSO_ACTOR, source_ip=source_ip)
    with uow_factory() as uow:
        person = _by_email(uow, str(identity.email)) or _created(uow, actor, now, policy, identity)
        if person.disabled:
            raise SignInRefused(
                f"your SO1 account (@{person.handle}) is disabled", "person disabled"
            )
        person = _with_mapped_role(uow, actor, now, person, policy, identity)
        detail = {
            "person": person.handle,
            "issuer": identity.issuer,
            "subject": identity.subject,
            "role": (person.role or Role.VIEWER).value,
        }
        change = Change("auth.sso", "person", person.handle, "signed in with SSO", detail)
        record(uow, replace(actor, name=person.handle, person=person.handle), now, change)
        uow.commit()
    return person


def _by_email(uow: UnitOfWork, email: str) -> Person | None:
    wanted = email.strip().casefold()
    found = [p for p in uow.oncall.people() if p.email and p.email.strip().casefold() == wanted]
    return found[0] if len(found) == 1 else None


def _created(
    uow: UnitOfWork, actor: Actor, now: datetime, policy: SsoPolicy, identity: ProviderIdentity
) -> Person:
    email = str(identity.email)
    if not policy.auto_create:
        raise SignInRefused(
            f"no one in SO1's people directory has the email {email}; ask an admin to add you "
            "(or to turn on SO1_OIDC_AUTO_CREATE)",
            "unknown person",
        )
    taken = {p.handle for p in uow.oncall.people()}
    person = Person(
        handle_for_email(email, taken), name=identity.name, email=email, role=Role.VIEWER
    )
    uow.oncall.upsert_person(person, now)
    uow.oncall.set_account(person.handle, Role.VIEWER, None)
    detail = {"role": "viewer", "email": email, "by": "SO1_OIDC_AUTO_CREATE"}
    record(uow, actor, now, Change("person.add", "person", person.handle, "added", detail))
    return person


def _with_mapped_role(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    person: Person,
    policy: SsoPolicy,
    identity: ProviderIdentity,
) -> Person:
    """The role the groups map to (the highest); none mapped: the person's role stays. The
    last enabled admin stays admin (as PUT /v1/people/{handle}/role's 409), audited."""
    mapped = role_from_groups(identity.groups, policy.role_map)
    if mapped is None or mapped is person.role:
        return person
    if is_last_admin(uow, person):
        detail: dict[str, Any] = {
            "kept": Role.ADMIN.value,
            "mapped": mapped.value,
            "groups": list(identity.groups),
        }
        summary = f"kept admin (the last enabled admin), not {mapped.value} from SSO groups"
        record(
            uow, actor, now, Change("person.role_kept", "person", person.handle, summary, detail)
        )
        return person
    uow.oncall.set_account(person.handle, mapped, person.disabled_at)
    detail = {
        "from": person.role.value if person.role else None,
        "to": mapped.value,
        "groups": list(identity.groups),
    }
    change = Change("person.role", "person", person.handle, f"role set to {mapped.value}", detail)
    record(uow, actor, now, change)
    return replace(person, role=mapped)


def _audit_refusal(
    uow_factory: UnitOfWorkFactory,
    at: datetime,
    refused: SignInRefused,
    source_ip: str | None,
    identity: ProviderIdentity | None,
) -> None:
    detail = {"reason": refused.reason, "via": "oidc"}
    if identity is not None:
        detail |= {"subject": identity.subject, "email": identity.email or ""}
    with uow_factory() as uow:
        uow.audit.add(
            AuditRecord(
                at=at,
                actor=SSO_ACTOR.name,
                action="auth.failed",
                resource_type="sign_in",
                resource_id=None,
                outcome=Outcome.DENIED,
                source_ip=source_ip,
                detail=detail,
            )
        )
        uow.commit()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
