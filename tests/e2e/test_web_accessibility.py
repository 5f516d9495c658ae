"""Every page, filled with a real record, checked for what keyboard and screen-reader users
need (issue 7: "accessible: keyboard, contrast, labels"): a language, a title and one h1;
every form control labelled; unique ids; buttons and links with text; charts with a text
alternative; only native controls (nothing clickable that a keyboard cannot reach, no
positive tabindex); and every text colour pair in the stylesheet at WCAG AA contrast."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from so1.bootstrap import Container
from so1.domain.severity import Severity
from so1.entrypoints.web.live import STATIC
from tests.conftest import open_incident
from tests.e2e.deployer_support import SERVICE, finished
from tests.e2e.test_api_oncall import example
from tests.e2e.test_web_pages import browser, sign_in

CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUTS = {"hidden", "submit", "button"}
VOID = {"input", "meta", "link", "br", "img", "hr", "source", "col", "area", "wbr"}


@dataclass
class Seen:
    lang: str | None = None
    titles: int = 0
    h1: int = 0
    ids: list[str] = field(default_factory=list)
    label_for: set[str] = field(default_factory=set)
    controls: list[dict[str, str | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen = Seen()
        self.open: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        seen = self.seen
        if tag == "html":
            seen.lang = a.get("lang")
        if a.get("id"):
            seen.ids.append(str(a["id"]))
        if tag == "label":
            if a.get("for"):
                seen.label_for.add(str(a["for"]))
            self.label_depth += 1
        if tag in CONTROLS and (a.get("type") or "text") not in UNLABELLED_INPUTS:
            seen.controls.append(a | {"_wrapped": "yes" if self.label_depth else None, "_tag": tag})
        if a.get("onclick") and tag not in ("button", "a"):
            seen.problems.append(f"<{tag} onclick> cannot be reached by keyboard")
        if a.get("tabindex") and int(str(a["tabindex"])) > 0:
            seen.problems.append(f"<{tag} tabindex={a['tabindex']}> breaks the tab order")
        if tag == "svg" and a.get("role") == "img" and not a.get("aria-label"):
            seen.problems.append("a chart (svg role=img) without aria-label")
        if tag == "img" and a.get("alt") is None:
            seen.problems.append(f"<img src={a.get('src')}> without alt")
        if tag not in VOID:
            self.open.append((tag, a, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth = max(0, self.label_depth - 1)
        while self.open:
            name, attrs, text = self.open.pop()
            if self.open:
                self.open[-1][2].extend(text)
            if name == tag:
                self._closed(name, attrs, "".join(text).strip())
                return

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1][2].append(data)

    def _closed(self, tag: str, attrs: dict[str, str | None], text: str) -> None:
        if tag == "title":
            self.seen.titles += 1
        if tag == "h1":
            self.seen.h1 += 1
        if tag in ("button", "a") and not text and not attrs.get("aria-label"):
            self.seen.problems.append(f"<{tag} {attrs}> has no text")


def audit(html: str) -> list[str]:
    parser = Audit()
    parser.feed(html)
    seen = parser.seen
    problems = list(seen.problems)
    if seen.lang != "en":
        problems.append(f"html lang is {seen.lang!r}")
    if seen.titles != 1 or seen.h1 != 1:
        problems.append(f"{seen.titles} <title> and {seen.h1} <h1> (want one of each)")
    dupes = sorted({i for i in seen.ids if seen.ids.count(i) > 1})
    if dupes:
        problems.append(f"duplicate ids: {dupes}")
    for control in seen.controls:
        named = control.get("aria-label") or control.get("aria-labelledby")
        labelled = control.get("id") in seen.label_for or control["_wrapped"]
        if not (named or labelled):
            problems.append(f"<{control['_tag']} name={control.get('name')}> has no label")
    return problems


@pytest.fixture
def pages(api: TestClient, container: Container, admin_token: str) -> dict[str, str]:
    """Each page as the admin sees it, with incidents, a mitigation, on-call, flags."""
    assert api.put("/v1/oncall/config", json=example()).status_code == 200
    api.put("/v1/feature-flags/bulk-execution", json={"enabled": True, "service": SERVICE})
    api.post(
        "/v1/metrics",
        json={"samples": [{"service": SERVICE, "metric": "error_rate", "value": 9.0}]},
    )
    api.post(
        "/v1/alerts",
        json={
            "event_action": "trigger",
            "source": "datadog",
            "summary": "Disk full",
            "service": SERVICE,
        },
    )
    live = open_incident(container, "Pool exhausted", Severity.SEV1, service=SERVICE)
    body = {
        "action": "flag_disable",
        "service": SERVICE,
        "flag": "bulk-execution",
        "incident_id": live.id,
    }
    run = api.post("/v1/orchestrate", json={"agent": "railway-deployer", "inputs": body}).json()
    finished(api, run["run_id"])
    done = open_incident(container, "Checkout slow", Severity.SEV2, service="checkout")
    patch = {"status": "resolved", "resolution_summary": "Cache warmed"}
    assert api.patch(f"/v1/incidents/{done.id}", json=patch).status_code == 200
    drafted = {"agent": "postmortem-analyst", "inputs": {"incident_id": done.id}}
    assert api.post("/v1/orchestrate", json=drafted).status_code == 200
    client = sign_in(container, admin_token)
    paths = [
        "/",
        f"/incidents/{live.id}",
        f"/incidents/{done.id}",
        f"/incidents/{done.id}/postmortem",
        "/alerts",
        "/oncall",
        "/deployments",
        "/flags",
        "/analytics",
        "/people",
        "/status",
    ]
    found = {path: client.get(path) for path in paths}
    found["/login"] = browser(container).get("/login")
    for path, response in found.items():
        assert response.status_code == 200, (path, response.text[:300])
    return {path: response.text for path, response in found.items()}


def test_every_page_is_usable_by_keyboard_and_screen_reader(pages: dict[str, str]) -> None:
    problems = {path: found for path, html in pages.items() if (found := audit(html))}
    assert problems == {}


def test_the_audit_finds_what_it_looks_for() -> None:
    bad = (
        '<html><head><title>x</title></head><body><h1>a</h1><h1>b</h1><div id="d"></div>'
        '<p id="d"></p><input name="q"><button></button><div onclick="go()">go</div>'
        '<svg role="img"></svg></body></html>'
    )
    found = audit(bad)
    assert "html lang is None" in found
    assert "1 <title> and 2 <h1> (want one of each)" in found
    assert "duplicate ids: ['d']" in found
    assert "<input name=q> has no label" in found
    assert any(p.startswith("<button") and p.endswith("has no text") for p in found)
    assert "<div onclick> cannot be reached by keyboard" in found
    assert "a chart (svg role=img) without aria-label" in found


HEX = r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colour_pairs(css: str) -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for each rule that sets a text colour, against its
    own background or the page's."""
    variables = dict(re.findall(r"--([\w-]+):\s*(" + HEX + ")", css))
    resolved = re.sub(r"var\(--([\w-]+)\)", lambda m: variables.get(m.group(1), m.group(0)), css)
    page = variables.get("bg", "#fff")
    pairs = []
    for selector, body in RULE.findall(resolved):
        text = re.search(r"(?<![-\w])color:\s*(" + HEX + ")", body)
        if text:
            back = re.search(r"background(?:-color)?:\s*(" + HEX + ")", body)
            pairs.append((selector.strip(), text.group(1), back.group(1) if back else page))
    return pairs


def test_every_text_colour_meets_wcag_aa_contrast() -> None:
    css = (STATIC / "so1.css").read_text()  # the pages' one stylesheet
    pairs = colour_pairs(css)
    assert len(pairs) >= 8  # the severity badges, muted text, links, errors...
    weak = [
        (s, fg, bg, round(contrast(fg, bg), 2)) for s, fg, bg in pairs if contrast(fg, bg) < 4.5
    ]
    assert weak == []
    assert round(contrast("#777", "#fff"), 2) == 4.48  # the formula: a known just-failing grey
