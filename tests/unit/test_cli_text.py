"""The CLI's small text rules: values, help labels, option names, addresses, database files."""

from __future__ import annotations

from pathlib import Path

import pytest

from so1.entrypoints.cli.client import option_name, problem_text
from so1.entrypoints.cli.help import plain_label, rewrap
from so1.entrypoints.cli.local import client_url, sqlite_file
from so1.entrypoints.cli.output import plain


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2024-01-15T14:45:00Z", "2024-01-15 14:45Z"),
        ("2024-01-15T14:45:12.345+00:00", "2024-01-15 14:45Z"),
        ("2024-01-15T14:45:00+02:00", "2024-01-15T14:45:00+02:00"),  # not UTC: as given
        ({"service": "billing", "source": "datadog"}, "service=billing, source=datadog"),
        ({"labels": {"team": "db"}}, 'labels={"team": "db"}'),
        (["a", "b"], "a, b"),
        (True, "yes"),
        (None, ""),
        (150, "150"),
    ],
)
def test_plain_values(value: object, shown: str) -> None:
    assert plain(value) == shown


@pytest.mark.parametrize(
    ("tag", "label"),
    [
        ("<str>", "TEXT"),
        ("<int>", "N"),
        ("<int range> [x>=1]", "N [x>=1]"),
        ("<float range>", "NUMBER"),
        ("<list[str]>", "TEXT"),
        ("<events|pagerduty>", "events|pagerduty"),
        ("<bool>", ""),
        ("<datetime>", "TIME"),
        ("<path>", "FILE"),
        (None, ""),
    ],
)
def test_help_labels(tag: str | None, label: str) -> None:
    assert plain_label(tag) == label


def test_rewrap_joins_lines_and_keeps_paragraphs() -> None:
    text = "Run the work\n    without HTTP;\n    pair it.\n\n    Second one."
    assert rewrap(text) == "Run the work without HTTP; pair it.\n\nSecond one."


def test_option_names_outside_a_command_drop_the_location() -> None:
    assert option_name("body.tier") == "tier"
    assert option_name("body.severity_reason", {"severity_reason": "--reason"}) == "--reason"
    assert option_name("body.scopes.0", {"scopes": "--scopes"}) == "--scopes (0)"
    one = {"title": "Validation failed", "errors": [{"field": "body.tier", "message": "bad"}]}
    assert problem_text(422, one) == "Validation failed (422): tier: bad"
    assert problem_text(502, "<html>") == "server answered HTTP 502"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
        ("so1.internal", "http://so1.internal:9000"),
    ],
)
def test_where_a_client_reaches_the_server(host: str, url: str) -> None:
    assert client_url(host, 9000) == url


def test_sqlite_files_are_found_in_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_file("sqlite:///./so1.db") == tmp_path / "so1.db"
    assert sqlite_file(f"sqlite:///{tmp_path}/x.db") == tmp_path / "x.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u:p@h/db") is None


def test_table_columns_keep_their_words_whole_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console

    from so1.entrypoints.cli import output

    screen = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=screen, width=80, no_color=True))
    columns = ["id", "sev", "status", "title", "service", "commander", "detected"]
    row = ["INC-20261205-0001", "SEV1", "investigating", "API error rate 12%, checkout failing",
           "api", "", "2026-12-05T16:07:00Z"]  # fmt: skip
    output.print_table("Incidents", columns, [row], optional=["commander", "detected"])
    shown = screen.getvalue()
    assert "investigating" in shown and "checkout" in shown, shown
