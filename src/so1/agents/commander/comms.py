"""The runbook's Phase 2 messages, rendered from ``so1.knowledge/comms.yaml`` (Jinja2)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from so1 import knowledge
from so1.agents.commander.contract import CommanderInputs
from so1.agents.triage.knowledge import knowledge as triage_knowledge
from so1.domain.incidents import Incident

UPDATE_MINUTES = 15  # the runbook: "Updates every 15 min"
_SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "to"})
_ACRONYMS = frozenset({"api", "cdn", "db", "dns", "http", "k8s", "sso", "ui", "vpn"})


@dataclass(frozen=True, slots=True)
class CustomerSymptom:
    pattern: re.Pattern[str]
    customer: str
    issue: str


@dataclass(frozen=True, slots=True)
class Comms:
    templates: dict[str, jinja2.Template]
    focus: dict[str, str]
    symptoms: tuple[CustomerSymptom, ...]

    def render(self, name: str, **values: Any) -> str:
        return self.templates[name].render(**values).strip()


@functools.cache
def comms() -> Comms:
    return parse_comms(knowledge.comms())


def handle(name: str | None, unknown: str = "unassigned") -> str:
    """A person as the messages name them, ``@name``; ``unknown`` when there is no one (a
    commander not assigned: "@unassigned" read like somebody's handle)."""
    return f"@{name.lstrip('@')}" if name else unknown


def commander_named(name: str | None) -> str:
    """How a line names the commander: ``commander @name``, or that there is none."""
    return f"commander {handle(name)}" if name else "no commander: no one on call"


def parse_comms(doc: Mapping[str, Any]) -> Comms:
    # Chat and status-page text, not HTML: nothing to escape.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    env.filters["handle"] = handle
    templates = {name: env.from_string(str(body)) for name, body in doc["templates"].items()}
    symptoms = tuple(
        CustomerSymptom(re.compile(s["pattern"], re.IGNORECASE), s["customer"], s["issue"])
        for s in doc["symptoms"]
    )
    return Comms(templates, {str(k): str(v) for k, v in doc["focus"].items()}, symptoms)


def title_case(text: str) -> str:
    """ "API error rate spike" → "API Error Rate Spike" (acronyms and small words kept)."""
    words = text.split()
    out = []
    for index, word in enumerate(words):
        if word.isupper() or any(c.isdigit() for c in word):
            out.append(word)
        elif word.lower() in _ACRONYMS:
            out.append(word.upper())
        elif index and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def leading_cause(inputs: CommanderInputs) -> str:
    """The triage report's top cause, or the cause its free-text hypotheses and symptoms
    match best in the triage knowledge (the seed passes "Connection pool undersized")."""
    findings = inputs.findings
    if findings.causes:
        return findings.causes[0]
    for text in (*findings.hypotheses, *findings.symptoms):
        scores = {
            spec.cause: sum(
                s.weight
                for s in spec.signals
                if s.when == "text" and s.pattern and s.pattern.search(text)
            )
            for spec in triage_knowledge().causes
        }
        best = max(scores, key=lambda cause: scores[cause], default="unknown")
        if scores.get(best):
            return best
    return "unknown"


def impact_line(inputs: CommanderInputs) -> tuple[str, str | None]:
    """("150 users, workflow executions failing", "workflow executions")."""
    impact = inputs.findings.impact
    users, affected = impact.users_affected, impact.affected
    parts = [f"{users} users" if isinstance(users, int) else users] if users else []
    if affected:
        parts.append(f"{affected} failing")
    if not parts and impact.services:
        parts.append(f"{', '.join(impact.services)} affected")
    return ", ".join(parts) or "being assessed", affected or None


def customer_symptom(inputs: CommanderInputs) -> CustomerSymptom:
    texts = " ".join([*inputs.findings.symptoms, inputs.title])
    return next(s for s in comms().symptoms if s.pattern.search(texts))


def render_update_reminder(
    incident: Incident, due: datetime, since: list[str], status: str | None = None
) -> str:
    """The reminder before a 15-minute update, with an update drafted from the timeline."""
    return comms().render(
        "update_reminder",
        commander=incident.commander,
        due=due.strftime("%H:%M UTC"),
        severity=incident.severity.value,
        title=title_case(incident.title),
        status=status or incident.status.value.capitalize(),
        since=since,
        update_minutes=UPDATE_MINUTES,
    )


def render_resolved(incident: Incident, public_title: str | None) -> tuple[str, str | None]:
    """(war-room text, status-page text or None when the status page was not used)."""
    resolved_at = incident.resolved_at or incident.updated_at
    minutes = max(0, int((resolved_at - incident.detected_at).total_seconds() // 60))
    resolution = incident.resolution_summary or "see the incident record"
    internal = comms().render(
        "resolved_internal",
        severity=incident.severity.value,
        title=title_case(incident.title),
        duration=f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min",
        resolution=resolution,
        commander=incident.commander,
    )
    if public_title is None:
        return internal, None
    public = comms().render(
        "resolved_status_page",
        public_title=public_title,
        resolution_public="Thank you for your patience.",
    )
    return internal, public
