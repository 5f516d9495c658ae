"""Contract tests: source adapters against the vendors' recorded payloads and signatures.

The payloads live in ``shared/reference/payloads`` beside the project checkout (or under
``$SO1_SHARED_DIR/reference/payloads``). Missing payloads fail the tests; they never skip.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from so1.adapters.sources.base import InboundRequest
from so1.domain.incidents import Incident, IncidentStatus
from so1.domain.severity import Severity

NOW = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
PAYLOADS = Path("reference") / "payloads"
JsonPath = tuple[str | int, ...]

# Any JSON value, small: what a broken or hostile sender might put anywhere in a payload.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def payloads_dir() -> Path:
    """``$SO1_SHARED_DIR/reference/payloads``, else the nearest ``shared/reference/payloads``
    found walking up from this file."""
    configured = os.environ.get("SO1_SHARED_DIR")
    if configured:
        candidate = Path(configured) / PAYLOADS
        if candidate.is_dir():
            return candidate
        pytest.fail(f"SO1_SHARED_DIR={configured!r} has no {PAYLOADS} directory", pytrace=False)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / PAYLOADS
        if candidate.is_dir():
            return candidate
    pytest.fail(
        f"no shared/{PAYLOADS} directory above {Path(__file__).resolve().parent}; check out "
        "the shared reference beside the project or set SO1_SHARED_DIR",
        pytrace=False,
    )


def payload(name: str) -> bytes:
    """The exact bytes of a reference payload, e.g. ``sentry/01-issue-created.json``."""
    path = payloads_dir() / name
    if not path.is_file():
        pytest.fail(f"reference payload {path} is missing", pytrace=False)
    return path.read_bytes()


def payload_json(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(payload(name))
    return document


def payload_names(vendor: str) -> list[str]:
    """Every payload file of one vendor directory, as ``vendor/file`` names."""
    return sorted(f"{vendor}/{path.name}" for path in (payloads_dir() / vendor).glob("*.json"))


def signature_vectors() -> list[dict[str, str]]:
    """The rows of ``signature-vectors.tsv`` (comment lines skipped)."""
    text = (payloads_dir() / "signature-vectors.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def inbound(body: bytes, headers: dict[str, str], received_at: datetime = NOW) -> InboundRequest:
    """An InboundRequest the way the web layer builds it: header names lower-cased."""
    return InboundRequest({k.lower(): v for k, v in headers.items()}, body, received_at)


def compact(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def json_paths(document: Any, prefix: JsonPath = ()) -> list[JsonPath]:
    """Every path inside ``document``, the root ``()`` included (object keys, array indexes)."""
    children: list[tuple[str | int, Any]] = []
    if isinstance(document, dict):
        children = list(document.items())
    elif isinstance(document, list):
        children = list(enumerate(document))
    found = [prefix]
    for key, value in children:
        found.extend(json_paths(value, (*prefix, key)))
    return found


def replaced(document: Any, path: JsonPath, value: Any) -> Any:
    """A deep copy of ``document`` with the value at ``path`` replaced."""
    if not path:
        return value
    result = copy.deepcopy(document)
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return result


def mutated_body(data: st.DataObject, document: Any) -> bytes:
    """``document`` with one value (or the whole of it) swapped for arbitrary JSON."""
    path = data.draw(st.sampled_from(json_paths(document)), label="path")
    return compact(replaced(document, path, data.draw(JSON_VALUES, label="value")))


def sample_incident(severity: str = "SEV2", **fields: Any) -> Incident:
    """The seed's incident as the outbound adapters see it (INC-20240115-0042)."""
    at = datetime(2024, 1, 15, 14, 45, tzinfo=UTC)
    base: dict[str, Any] = {"service": "control-plane-api", "channel": "#incident-20240115-0042"}
    return Incident(
        "INC-20240115-0042",
        "API error rate spike",
        IncidentStatus.INVESTIGATING,
        Severity(severity),
        at,
        at,
        at,
        **{**base, **fields},
    )
