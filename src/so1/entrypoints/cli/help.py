"""Help that reads as plain text. Typer 0.29 prints a type tag beside every option (`<str>`,
`<bool>`, `<int range>`) and keeps a docstring's line breaks in the command list; this names
option values as click used to (TEXT, N, FILE, one|two), shows nothing after a flag or an
argument, and rewraps each docstring into paragraphs. The root group applies it to the whole
command tree once Typer has built it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

_TAG = re.compile(r"^<([^>]*)>(.*)$", re.DOTALL)
_WORDS = {"str": "TEXT", "int": "N", "float": "NUMBER", "datetime": "TIME", "path": "FILE"}


class PlainHelpGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy(self)


def tidy(command: Any) -> None:
    """Apply plain help to ``command`` and everything under it (the parameters as the help
    asks for them, so the ones Typer adds later, --help and completion, are included)."""
    if command.help:
        command.help = rewrap(command.help)
    params: Callable[[Any], list[Any]] = command.get_params

    def plain_params(ctx: Any) -> list[Any]:
        found = params(ctx)
        for param in found:
            _plain_type(param)
        return found

    vars(command)["get_params"] = plain_params
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)


def rewrap(text: str) -> str:
    """Each paragraph on one line (the terminal wraps it); paragraphs stay apart."""
    lines = [line.strip() for line in text.strip().splitlines()]
    paragraphs = [" ".join(p.split()) for p in "\n".join(lines).split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def plain_label(tag: str | None) -> str:
    """``<str>`` → TEXT, ``<int range> [x>=1]`` → N [x>=1], ``<a|b>`` → a|b, ``<bool>`` → ''."""
    if not tag:
        return ""
    match = _TAG.match(tag)
    if match is None:
        return tag
    inner, rest = match[1], match[2]
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    if "|" in inner:
        return inner + rest
    if inner == "bool":
        return ""
    word = inner.split()[0] if inner else ""
    return _WORDS.get(word, "TEXT") + rest


def _plain_type(param: Any) -> None:
    original: Callable[..., str | None] | None = getattr(param, "display_type_rich", None)
    if original is None or not isinstance(param, TyperArgument | TyperOption):
        return
    if getattr(original, "plain", False):
        return  # done already
    if isinstance(param, TyperArgument) and param.metavar is None and param.name:
        param.metavar = param.name.upper()  # the usage line's {INCIDENT_ID}
    argument = isinstance(param, TyperArgument)
    flag = isinstance(param, TyperOption) and param.is_flag

    def shown_type(ctx: Any = None) -> str:
        if flag or original is None:
            return ""
        label = plain_label(original(ctx=ctx))
        return label if not argument or "|" in label else ""  # arguments: only choices

    vars(shown_type)["plain"] = True
    vars(param)["display_type_rich"] = shown_type
