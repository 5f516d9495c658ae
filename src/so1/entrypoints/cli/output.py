"""Printing for the CLI: Rich tables for people, JSON for scripts, errors without tracebacks.

Tables fit the terminal: the key columns (ids) are never cut; the others wrap, and when even
that is too wide, the optional columns are left out (the last first) with a note saying so.
Values read as a person would write them: times to the minute, mappings as ``key=value``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
# soft_wrap: messages stay one line when piped (Rich would break them at 80 columns).
err_console = Console(stderr=True, soft_wrap=True)

FOLD_WIDTH = 16  # a wrapping column keeps its longest word whole up to this width
_UTC_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|\+00:00)$")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A line about what the command is doing, on stderr (stdout stays for its result)."""
    err_console.print(message, highlight=False, markup=False)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def plain(value: Any) -> str:
    """One value as text: UTC times to the minute, mappings as key=value, lists joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        match = _UTC_TIME.match(value)
        return f"{match[1]} {match[2]}Z" if match else value
    if isinstance(value, dict):
        return ", ".join(f"{k}={_nested(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_nested(v) for v in value)
    return str(value)


def _nested(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return plain(value)


def _table(title: str, columns: Sequence[str], cells: list[list[str]], keep: int) -> Table:
    table = Table(title=title, header_style="bold")
    for index, column in enumerate(columns):
        if index < keep:
            table.add_column(column, no_wrap=True)
        else:
            # never narrower than its longest word (up to FOLD_WIDTH): words stay whole
            texts = [column] + [row[index] for row in cells]
            table.add_column(column, overflow="fold", min_width=_narrowest(texts, whole=False))
    for row in cells:
        table.add_row(*row)
    return table


def _narrowest(texts: Sequence[str], whole: bool) -> int:
    """How narrow a column can get: its widest cell when shown whole, else its longest word,
    folded at FOLD_WIDTH at most."""
    shown = [Text.from_markup(t) for t in texts]
    if whole:
        return max((t.cell_len for t in shown), default=0)
    words = [cell_len(w) for t in shown for w in t.plain.split()]
    return min(max(words, default=0), FOLD_WIDTH)


def _needed_width(columns: Sequence[str], cells: list[list[str]], keep: int) -> int:
    borders = 3 * len(columns) + 1  # a rule and a space each side of every column
    return borders + sum(
        _narrowest([column] + [row[i] for row in cells], whole=i < keep)
        for i, column in enumerate(columns)
    )


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    keep: int = 1,
    optional: Sequence[str] = (),
) -> None:
    """``keep``: the first columns, shown whole; ``optional``: columns that may be left out
    (the last named first) when the table does not fit the terminal."""
    shown = list(columns)
    cells = [[plain(v) for v in row] for row in rows]
    droppable = [c for c in optional if c in shown]
    while True:
        kept = [[row[columns.index(c)] for c in shown] for row in cells]
        if _needed_width(shown, kept, keep) <= console.width or not droppable:
            break
        shown.remove(droppable.pop())
    console.print(_table(title, shown, kept, keep))
    left_out = [c for c in columns if c not in shown]
    if left_out:
        console.print(
            f"({', '.join(left_out)} left out to fit {console.width} columns; --json has all)",
            style="dim",
            highlight=False,
        )


def print_record(title: str, record: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in record.items():
        table.add_row(key, plain(value))
    console.print(table)


def print_fields(fields: dict[str, str]) -> None:
    """Label and value lines, the values aligned and wrapped (no borders)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in fields.items():
        grid.add_row(label, value)
    console.print(grid, highlight=False)
