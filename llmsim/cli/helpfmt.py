"""`--help` that reads like a tool's: metavars we chose, choices, defaults, examples last.

typer's own help shows Python types (`<int range>`, `<list[Path]>`, `{trace}`); these command
classes draw the whole page themselves (`get_help`, click's public Command method) from the
parameters' own `metavar`, `help` and `default`, so what a user reads is exactly what a command
declares. Only public interfaces are used: `typer.core`'s command classes, click's Parameter
attributes (`param_type_name`, `opts`, `metavar`, `help`, `default`, ...) and Context's
`command_path`; the page itself is laid out here with the standard library's textwrap, in
click's familiar shape (two-space indents, a definition list whose first column is at most 30
wide, at most 78 columns), so any typer release gives the same page (tests/test_cli_help.py
pins it). Examples are kept verbatim, one per line, so `tests/test_examples.py` can run them.
"""

from __future__ import annotations

import inspect
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from typer import Context
from typer.core import TyperCommand, TyperGroup

EXAMPLES_HEADING: Final = "Examples"
MAX_WIDTH: Final = 80  # terminal columns the page uses at most; it reads best narrow
MIN_WIDTH: Final = 50  # below this the page is not squeezed further: the terminal wraps
INDENT: Final = 2
FIRST_COLUMN: Final = 30  # widest option column; a longer one puts its help on the next line
SPACING: Final = 2  # between the columns


def page_width() -> int:
    """Columns the text may use: the terminal's, at most MAX_WIDTH, less a margin of two."""
    return max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2, MIN_WIDTH)


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    wrapper = textwrap.TextWrapper(
        width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False
    )
    return wrapper.wrap(text.expandtabs()) or [first.rstrip()]


class HelpPage:
    """A help page built top to bottom: usage, paragraphs, definition lists, examples."""

    def __init__(self, width: int | None = None) -> None:
        self.width = page_width() if width is None else width
        self.lines: list[str] = []

    def usage(self, prog: str, pieces: Sequence[str]) -> None:
        """`Usage: prog ARGS...`, the arguments wrapped under themselves."""
        prefix = f"Usage: {prog} "
        if self.width >= len(prefix) + 20:
            self.lines += _wrap(" ".join(pieces), self.width, prefix, " " * len(prefix))
        else:  # a long command path: the arguments on the next lines
            self.lines.append(prefix.rstrip())
            self.lines += _wrap(" ".join(pieces), self.width, " " * 10, " " * 10)

    def paragraphs(self, text: str | None) -> None:
        """A docstring's paragraphs, each rewrapped and indented."""
        if not text:
            return
        for paragraph in inspect.cleandoc(text).split("\n\n"):
            self.lines.append("")
            pad = " " * INDENT
            self.lines += _wrap(" ".join(paragraph.split()), self.width, pad, pad)

    def table(self, heading: str, rows: Sequence[tuple[str, str]]) -> None:
        """A heading and a two-column definition list (nothing if there are no rows)."""
        if not rows:
            return
        self.lines += ["", f"{heading}:"]
        first = min(max(len(left) for left, _ in rows), FIRST_COLUMN) + SPACING
        pad = " " * (INDENT + first)
        text_width = max(self.width - first - 2, 10)
        for left, right in rows:
            head = " " * INDENT + left
            if not right:
                self.lines.append(head)
                continue
            wrapped = _wrap(right, text_width)
            if len(left) <= first - SPACING:
                self.lines.append(head + " " * (first - len(left)) + wrapped[0])
            else:
                self.lines += [head, pad + wrapped[0]]
            self.lines += [pad + line for line in wrapped[1:]]

    def verbatim(self, heading: str, lines: Iterable[str]) -> None:
        """A heading and lines kept exactly as they are (examples), indented."""
        body = [" " * INDENT + line for line in lines]
        if body:
            self.lines += ["", f"{heading}:", *body]

    def text(self) -> str:
        """The page, without a final newline (echo adds one)."""
        return "\n".join(self.lines)


class Parameter(Protocol):
    """What the page needs of a click Parameter: its public attributes."""

    param_type_name: str
    name: str | None
    metavar: str | None
    default: Any
    required: bool
    opts: list[str]
    secondary_opts: list[str]


def _default_text(value: Any) -> str | None:
    if value is None or value is False or value == () or value == []:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def is_option(param: Parameter) -> bool:
    """True for an option (`--name`), False for a positional argument."""
    return param.param_type_name == "option"


def option_record(param: Parameter) -> tuple[str, str]:
    """The (left column, help) pair of one option or argument."""
    metavar = param.metavar or (param.name or "").upper()
    if is_option(param):
        # Short spellings first (-h, --help), as every tool lists them.
        spellings = sorted([*param.opts, *param.secondary_opts], key=lambda o: o.startswith("--"))
        names = ", ".join(spellings)
        left = names if getattr(param, "is_flag", False) else f"{names} {metavar}"
    else:
        left = metavar
    help_text = getattr(param, "help", None) or ""
    extra = []
    # A flag's default goes without saying (and click 8.2+ keeps a sentinel there).
    shown = is_option(param) and not param.required and not getattr(param, "is_flag", False)
    default = _default_text(param.default) if shown else None
    if default is not None and getattr(param, "show_default", True) is not False:
        extra.append(f"default: {default}")
    if param.required:
        extra.append("required")
    if extra:
        help_text = f"{help_text}  [{'; '.join(extra)}]" if help_text else f"[{'; '.join(extra)}]"
    return left, help_text


def _visible(params: Iterable[Any]) -> list[Parameter]:
    return [p for p in params if not getattr(p, "hidden", False)]


def _write_params(page: HelpPage, params: Sequence[Parameter]) -> None:
    page.table("Arguments", [option_record(p) for p in params if not is_option(p)])
    page.table("Options", [option_record(p) for p in params if is_option(p)])


def _examples(epilog: str | None) -> list[str]:
    return [line for line in (epilog or "").splitlines() if line.strip()]


class ToolCommand(TyperCommand):
    """A command whose help is drawn from its parameters' own metavars, help and defaults."""

    def usage_pieces(self, ctx: Context) -> list[str]:
        """[OPTIONS] then each argument's metavar (typer would print `{trace}`)."""
        pieces = ["[OPTIONS]"]
        for param in _visible(self.get_params(ctx)):
            if not is_option(param):
                pieces.append(param.metavar or (param.name or "ARG").upper())
        return pieces

    # typer's Context is a subclass of the click Context the base method takes.
    def get_help(self, ctx: Context) -> str:  # type: ignore[override]
        """Usage, description, arguments, options, examples."""
        page = HelpPage()
        page.usage(ctx.command_path, self.usage_pieces(ctx))
        page.paragraphs(self.help)
        _write_params(page, _visible(self.get_params(ctx)))
        page.verbatim(EXAMPLES_HEADING, _examples(self.epilog))
        return page.text()


class ToolGroup(TyperGroup):
    """The `llmsim` group: usage, description, options, commands, examples.

    An option string declared twice (llmsim's --install-completion and typer's own) belongs to
    the first declaration: the later one is left out of parsing and of the help alike.
    """

    def get_params(self, ctx: Context) -> list[Any]:  # type: ignore[override]
        """The parameters, each option string once (the first declaration wins)."""
        seen: set[str] = set()
        kept = []
        for param in super().get_params(ctx):
            names = {*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())}
            if not names & seen:
                kept.append(param)
                seen |= names
        return kept

    # typer's Context is a subclass of the click Context the base method takes.
    def get_help(self, ctx: Context) -> str:  # type: ignore[override]
        """Usage, description, options, the commands with their one-line summaries, examples."""
        page = HelpPage()
        page.usage(ctx.command_path, ["[OPTIONS]", "COMMAND", "[ARGS]..."])
        page.paragraphs(self.help)
        _write_params(page, _visible(self.get_params(ctx)))
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=70)))
        page.table("Commands", rows)
        page.verbatim(EXAMPLES_HEADING, _examples(self.epilog))
        return page.text()
