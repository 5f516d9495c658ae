"""Reading the incident record the postmortem-analyst is given (plain JSON-able data, built by
services/postmortem/drafting.py): times, the ordered timeline, the root cause and the changes
before detection. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

TRIGGER_LOOKBACK = timedelta(hours=24)
NOISY = frozenset({"mitigation.progress", "checklist.ticked", "agent.run"})

Event = Mapping[str, Any]


def when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def events(record: Mapping[str, Any], *kinds: str) -> list[Event]:
    return [e for e in record.get("timeline") or [] if e.get("kind") in kinds]


def first_communication(record: Mapping[str, Any]) -> datetime | None:
    sent = [
        when(m.get("sent_at"))
        for m in record.get("messages") or []
        if m.get("to") == "war_room" and m.get("status") == "sent"
    ]
    stamps = [s for s in sent if s is not None]
    return min(stamps) if stamps else None


def mitigated_at(record: Mapping[str, Any]) -> datetime | None:
    done = [
        when(e["at"])
        for e in events(record, "mitigation.finished")
        if (e.get("data") or {}).get("ok")
    ]
    if done:
        return done[0]
    return when(record["incident"].get("mitigated_at"))


def timeline(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Alerts, deployments, timeline events and sent messages, ordered, one line per
    (minute-second, text): the same fact recorded twice shows once."""
    rows: list[tuple[datetime, str, str, str]] = []
    for alert in record.get("alerts") or []:
        rows.append((when(alert["first_seen_at"]), "alert", alert["summary"], alert["id"]))  # type: ignore[arg-type]
    detected = when(record["incident"]["detected_at"])
    for d in record.get("deployments") or []:
        at = when(d["deployed_at"])
        if at is not None and detected is not None and at >= detected - TRIGGER_LOOKBACK:
            by = f" by {d['deployed_by']}" if d.get("deployed_by") else ""
            rows.append(
                (
                    at,
                    "deployment",
                    f"{d['service']} {d['version']} deployed{by}",
                    f"deployment:{d['service']}:{d['version']}",
                )
            )
    for e in record.get("timeline") or []:
        if e["kind"] not in NOISY:
            rows.append((when(e["at"]), e["kind"], e["summary"], f"event:{e['id']}"))  # type: ignore[arg-type]
    seen: set[tuple[str, str]] = set()
    ordered = []
    for at, source, text, ref in sorted(rows, key=lambda r: r[0]):
        key = (at.strftime("%Y%m%d%H%M%S"), text.strip().lower())
        if key not in seen:
            seen.add(key)
            ordered.append({"at": at.isoformat(), "source": source, "text": text, "ref": ref})
    return ordered


def root_cause(record: Mapping[str, Any], causes: Mapping[str, Any]) -> dict[str, Any] | None:
    """The hypothesis the record supports best: documented ones first (by confidence), then
    triage's, never one a mitigation rejected; confirmed when a mitigation aimed at it
    passed the gates."""
    rejected = {(e.get("data") or {}).get("cause") for e in events(record, "hypothesis.rejected")}
    candidates = _documented(record) + _triaged(record)
    standing = [c for c in candidates if c["cause"] not in rejected]
    if not standing:
        return None
    best = max(standing, key=lambda c: c["confidence"])
    verified = [
        e
        for e in events(record, "verification.result")
        if (e.get("data") or {}).get("outcome") in ("effective", "stable")
    ]
    found = dict(best) | {
        "title": _title(best["cause"], causes, best.get("statement")),
        "rejected": sorted(str(r) for r in rejected if r),
        "confirmed_by": None,  # until a mitigation aimed at it passes the gates
    }
    if verified:
        found["confirmed_by"] = (
            f"the gates passed after the mitigation (event:{verified[-1]['id']})"
        )
        found["confidence"] = max(found["confidence"], 0.9)
    return found


def _documented(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for e in events(record, "hypothesis.documented"):
        data = e.get("data") or {}
        found.append(
            {
                "cause": data.get("cause") or data.get("hypothesis"),
                "confidence": float(data.get("confidence") or 0),
                "evidence": list(data.get("evidence") or []),
                "statement": data.get("hypothesis"),
                "source": f"event:{e['id']}",
            }
        )
    return found


def _triaged(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    reports = events(record, "triage.report")
    if not reports:
        return []
    last = reports[-1]
    return [
        {
            "cause": h.get("cause"),
            "confidence": float(h.get("confidence") or 0),
            "evidence": list(h.get("evidence") or []),
            "statement": None,
            "source": f"event:{last['id']}",
        }
        for h in (last.get("data") or {}).get("hypotheses") or []
        if h.get("cause")
    ]


def _title(cause: str, causes: Mapping[str, Any], statement: str | None) -> str:
    known = causes.get(cause) or {}
    return str(statement or known.get("title") or cause.replace("_", " "))


def triggers(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(what changed, citation) in the 24 hours before detection: deployments of the service
    and flag flips."""
    detected = when(record["incident"]["detected_at"])
    assert detected is not None
    found = []
    for d in record.get("deployments") or []:
        at = when(d["deployed_at"])
        if at is not None and detected - TRIGGER_LOOKBACK <= at <= detected:
            hours = (detected - at).total_seconds() / 3600
            found.append(
                (
                    f"{d['version']} of {d['service']} was deployed {hours:.0f} h before detection",
                    f"deployment:{d['service']}:{d['version']}",
                )
            )
    for e in events(record, "flag.flipped"):
        at = when(e["at"])
        if at is not None and at <= detected:
            found.append((e["summary"], f"event:{e['id']}"))
    return found


def late_checks(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in record.get("checks") or [] if c.get("state") in ("done_late", "late")]


def on_time(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in checks if c.get("state") == "done" and c.get("due_at")]
