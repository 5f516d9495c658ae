"""The runbook's "Security breach" scenario: rotate every SO1 API key and integration secret
at once (the old ones stop working now), export the audit log for a window, and build an
evidence bundle whose files are hashed, with the hashes on the incident's timeline (chain of
custody). Nothing here posts to the public status page."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from so1.domain.access import IssuedKey
from so1.domain.intake import Integration
from so1.domain.plain import plain
from so1.domain.records import AuditRecord
from so1.domain.timeline import EventKind
from so1.errors import NotFound, ValidationFailed
from so1.ports import AlertFilter, Clock, UnitOfWork, UnitOfWorkFactory
from so1.services.access import keys as access
from so1.services.access.clearance import require_act
from so1.services.incidents.recording import Actor, Change, record
from so1.services.intake import integrations
from so1.services.verified_cache import VerifiedCache

EXPORT_LIMIT = 100_000
BEFORE_DETECTION = timedelta(hours=24)  # evidence window starts a day before detection


@dataclass(frozen=True)
class Rotation:
    keys: list[IssuedKey]
    integrations: list[Integration]


def rotate_everything(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, *caches: VerifiedCache[Any]
) -> Rotation:
    """One transaction: every usable key replaced (same name and scopes) and every enabled
    integration's secret replaced, the old ones expiring now. The new secrets are returned
    once; the caller's own key is among them."""
    now = clock.now()
    with uow_factory() as uow:
        keys = [
            access.rotate_in(uow, actor, now, key, timedelta(0))
            for key in uow.keys.all()
            if key.is_usable(now)
        ]
        secrets = [
            integrations.rotate_in(uow, actor, now, found, timedelta(0))
            for found in uow.intake.integrations()
            if found.disabled_at is None
        ]
        summary = f"security rotation: {len(keys)} API keys, {len(secrets)} integration secrets"
        record(
            uow,
            actor,
            now,
            Change(
                "security.rotate_all",
                "system",
                None,
                summary,
                {"keys": len(keys), "integrations": len(secrets)},
            ),
        )
        uow.commit()
    for cache in caches:
        cache.clear()  # old keys and secrets must fail at once in this process too
    return Rotation(keys, secrets)


def export_audit(
    uow_factory: UnitOfWorkFactory, reader: Actor, start: datetime, end: datetime
) -> list[AuditRecord]:
    """Rows about security incidents only for a cleared ``reader``."""
    if end <= start:
        raise ValidationFailed("'end' must be after 'start'", field="end")
    with uow_factory(read_only=True) as uow:
        return uow.audit.between(start, end, EXPORT_LIMIT, reader.security_cleared)


def audit_lines(records: list[AuditRecord]) -> str:
    """JSON lines, one record each, as log tools ingest them."""
    return "".join(json.dumps(plain(asdict(r)), sort_keys=True) + "\n" for r in records)


@dataclass(frozen=True)
class Bundle:
    name: str
    content: bytes
    sha256: str
    files: dict[str, str]  # file name → SHA-256


def evidence_bundle(
    uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, incident_id: str
) -> Bundle:
    """A zip of the incident's record (incident, timeline, alerts, messages, audit for the
    window) with a manifest of SHA-256 hashes; the hashes go on the timeline."""
    now = clock.now()
    with uow_factory(read_only=True) as uow:
        files = _evidence_files(uow, actor, incident_id, now)
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    files["manifest.json"] = json.dumps(
        {
            "incident_id": incident_id,
            "created_at": now.isoformat(),
            "created_by": actor.name,
            "sha256": manifest,
        },
        indent=2,
        sort_keys=True,
    ).encode()
    content = _zip(files, now)
    digest = hashlib.sha256(content).hexdigest()
    name = f"evidence-{incident_id}-{now:%Y%m%dT%H%M%SZ}.zip"
    with uow_factory() as uow:
        detail = {"bundle": name, "sha256": digest, "files": manifest}
        record(
            uow,
            actor,
            now,
            Change(
                "security.evidence",
                "incident",
                incident_id,
                f"evidence bundle {name} (sha256 {digest[:16]}…)",
                detail,
                incident_id,
                EventKind.EVIDENCE_BUNDLE,
            ),
        )
        uow.commit()
    return Bundle(name, content, digest, manifest)


def _evidence_files(
    uow: UnitOfWork, actor: Actor, incident_id: str, now: datetime
) -> dict[str, bytes]:
    incident = require_act(uow, actor, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    alerts, _ = uow.alerts.search(AlertFilter(incident_id=incident_id, limit=10_000))
    audit = uow.audit.between(incident.detected_at - BEFORE_DETECTION, now, EXPORT_LIMIT)
    return {
        "incident.json": _json(asdict(incident)),
        "timeline.json": _json([asdict(e) for e in uow.timeline.for_incident(incident_id)]),
        "alerts.json": _json([asdict(a) for a in alerts]),
        "messages.json": _json([asdict(m) for m in uow.outbox.for_incident(incident_id)]),
        "audit.jsonl": audit_lines(audit).encode(),
    }


def _json(value: Any) -> bytes:
    return json.dumps(plain(value), indent=2, sort_keys=True).encode()


def _zip(files: dict[str, bytes], now: datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, stamp), files[name])
    return buffer.getvalue()
