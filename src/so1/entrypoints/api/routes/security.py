"""The security-breach playbook over HTTP: rotate everything, export the audit log, and the
evidence bundle of an incident."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, Field

from so1.entrypoints.api.deps import Admin, ContainerDep, Security
from so1.services.investigation import security_playbook as svc

router = APIRouter(tags=["security"])


class RotatedKey(BaseModel):
    id: str
    name: str
    scopes: list[str]
    token: str
    replaces: str | None = Field(description="the id of the key this one replaces")


class RotatedIntegration(BaseModel):
    id: str
    source: str
    name: str
    secret: str


class RotationOut(BaseModel):
    keys: list[RotatedKey]
    integrations: list[RotatedIntegration]


@router.post("/v1/security/rotate", response_model=RotationOut)
def rotate(container: ContainerDep, actor: Admin) -> RotationOut:
    """Replace every API key and integration secret now; the old ones stop working at once.
    The new ones are in this answer only (your own key too): hand them out, then update the
    senders (Datadog, PagerDuty, Sentry, Alertmanager) with their new secrets."""
    edge = container.edge
    done = svc.rotate_everything(
        container.uow, container.clock, actor, edge.key_cache, edge.integration_cache
    )
    keys = [
        RotatedKey(
            id=k.key.id,
            name=k.key.name,
            scopes=sorted(s.value for s in k.key.scopes),
            token=k.token,
            replaces=k.key.rotated_from,
        )
        for k in done.keys
    ]
    secrets = [
        RotatedIntegration(id=i.id, source=i.source.value, name=i.name, secret=i.secret)
        for i in done.integrations
    ]
    return RotationOut(keys=keys, integrations=secrets)


@router.get("/v1/audit/export")
def export_audit(
    container: ContainerDep, actor: Admin, start: AwareDatetime, end: AwareDatetime | None = None
) -> Response:
    """The audit log from ``start`` to ``end`` (default now) as JSON lines, oldest first; rows
    about security incidents only for a key with the `security` scope."""
    until: datetime = end or container.clock.now()
    records = svc.export_audit(container.uow, actor, start, until)
    return Response(svc.audit_lines(records), media_type="application/x-ndjson")


@router.post("/v1/incidents/{incident_id}/evidence")
def evidence(incident_id: str, container: ContainerDep, actor: Security) -> Response:
    """A zip of the incident's record with a manifest of SHA-256 hashes; the bundle's own hash
    is in ``X-SO1-SHA256`` and on the timeline."""
    bundle = svc.evidence_bundle(container.uow, container.clock, actor, incident_id)
    headers = {
        "Content-Disposition": f'attachment; filename="{bundle.name}"',
        "X-SO1-SHA256": bundle.sha256,
    }
    return Response(bundle.content, media_type="application/zip", headers=headers)
