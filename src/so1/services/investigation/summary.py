"""The investigation context as a war-room post (Phase 3 "Gather context", on request)."""

from __future__ import annotations

from so1.services.investigation.gather import InvestigationContext

TOP_PATTERNS = 3


def context_markdown(found: InvestigationContext) -> str:
    lines = [f"**Context for {found.incident.id}** ({found.incident.service or 'no service'})"]
    if found.diff:
        d = found.diff
        changed = ", ".join(f"{k}: {old} → {new}" for k, (old, new) in d.config_changed.items())
        lines.append(
            f"**Deployed**: {d.current} (previous {d.previous or '-'}) by "
            f"{d.deployed_by or 'unknown'} at {d.deployed_at:%H:%M} UTC"
            + (f"; config {changed}" if changed else "")
        )
    latest = [f"{s.metric} {s.last():g}" for s in found.metrics if s.last() is not None]
    if latest:
        lines.append("**Metrics now**: " + ", ".join(latest))
    if found.logs and found.logs.patterns:
        lines.append("**Error patterns**:")
        lines += [
            f"- {'🆕 ' if p.new else ''}{p.template} ({p.count} lines)"
            for p in found.logs.patterns[:TOP_PATTERNS]
        ]
    matched = [r for r in found.symptoms if r.matched]
    for row in matched:
        lines.append(
            f"**Symptom**: {row.symptom} → {row.likely_cause}: {row.investigation} ({row.evidence})"
        )
    if found.mitigations:
        first = found.mitigations[0]
        lines.append(f"**Suggested**: {first['label']} (risk {first['risk']}, {first['speed']})")
    for source, why in found.unavailable.items():
        lines.append(f"_{source} unavailable: {why}_")
    return "\n".join(lines)
