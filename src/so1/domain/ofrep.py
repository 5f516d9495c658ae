"""The OpenFeature Remote Evaluation Protocol (OFREP) answers for SO1's feature flags.

Flags here are booleans (on/off switches an incident commander flips), so every evaluation is
a boolean with the variant ``on`` or ``off`` and the reason ``STATIC``: the value does not
depend on the evaluation context. Answers are never cacheable, so an application sees a flip
on its next evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from so1.domain.changes import FeatureFlag

PARSE_ERROR = "PARSE_ERROR"
INVALID_CONTEXT = "INVALID_CONTEXT"
FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
MIN_POLLING_MS = 1_000

CONFIGURATION: dict[str, Any] = {
    "name": "so1",
    "capabilities": {
        "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": MIN_POLLING_MS}},
        "flagEvaluation": {"supportedTypes": ["boolean"]},
    },
}


def evaluation(flag: FeatureFlag) -> dict[str, Any]:
    metadata: dict[str, str] = {
        "updatedAt": flag.updated_at.isoformat(),
        "updatedBy": flag.updated_by,
    }
    if flag.service:
        metadata["service"] = flag.service
    return {
        "key": flag.key,
        "value": flag.enabled,
        "reason": "STATIC",
        "variant": "on" if flag.enabled else "off",
        "metadata": metadata,
    }


def failure(key: str | None, code: str, details: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"errorCode": code, "errorDetails": details}
    if key is not None:
        answer["key"] = key
    return answer


def entity_tag(flags: Iterable[FeatureFlag]) -> str:
    """Changes whenever any flag is added, removed or flipped."""
    digest = hashlib.sha256()
    for flag in sorted(flags, key=lambda f: f.key):
        digest.update(f"{flag.key}\0{flag.enabled}\0{flag.updated_at.isoformat()}\n".encode())
    return f'"{digest.hexdigest()[:32]}"'


def context_problem(body: object) -> str | None:
    """Why a decoded request body is not ``{"context": {...}}`` (None when it is)."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    context = body.get("context", {})
    if not isinstance(context, dict):
        return "'context' must be a JSON object"
    return None
