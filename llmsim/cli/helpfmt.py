"""`--help` that reads like a tool's: metavars we chose, choices, defaults, examples last.

typer's own help shows Python types (`<int range>`, `<list[Path]>`, `{trace}`); these command
classes (for the typer 0.29 series, whose vendored click has TyperOption/TyperArgument) draw the usage line, the argument and option tables and the examples from the
parameters' own `metavar`, `help` and `default` (click's stable Parameter attributes), so
what a user reads is exactly what a command declares. Examples are kept verbatim, one per
line, so `tests/test_examples.py` can run every one of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from typer import _click as click  # typer vendors click; its Parameter API is click's
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

EXAMPLES_HEADING: Final = "Examples"


def _default_text(value: Any) -> str | None:
    if value is None or value is False or value == () or value == []:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def option_record(param: click.Parameter) -> tuple[str, str]:
    """The (left column, help) pair of one option or argument."""
    is_option = isinstance(param, TyperOption)
    metavar = param.metavar or (param.name or "").upper()
    if isinstance(param, TyperOption):
        # Short spellings first (-h, --help), as every tool lists them.
        spellings = sorted([*param.opts, *param.secondary_opts], key=lambda o: o.startswith("--"))
        names = ", ".join(spellings)
        left = names if param.is_flag else f"{names} {metavar}"
    else:
        left = metavar
    help_text = getattr(param, "help", None) or ""
    extra = []
    default = _default_text(param.default) if is_option and not param.required else None
    if default is not None and getattr(param, "show_default", True) is not False:
        extra.append(f"default: {default}")
    if param.required:
        extra.append("required")
    if extra:
        help_text = f"{help_text}  [{'; '.join(extra)}]" if help_text else f"[{'; '.join(extra)}]"
    return left, help_text


def _write_description(text: str | None, formatter: click.HelpFormatter) -> None:
    if not text:
        return
    formatter.write_paragraph()
    with formatter.indentation():
        for i, paragraph in enumerate(inspect.cleandoc(text).split("\n\n")):
            if i:
                formatter.write_paragraph()
            formatter.write_text(" ".join(paragraph.split()))


def write_examples(examples: Sequence[str], formatter: click.HelpFormatter) -> None:
    """The examples section: each line as it is (no rewrapping), indented."""
    if not examples:
        return
    formatter.write_paragraph()
    formatter.write_heading(EXAMPLES_HEADING)
    with formatter.indentation():
        for line in examples:
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


def _write_params(params: Sequence[click.Parameter], formatter: click.HelpFormatter) -> None:
    arguments = [option_record(p) for p in params if isinstance(p, TyperArgument)]
    options = [option_record(p) for p in params if isinstance(p, TyperOption) and not p.hidden]
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


def _examples(epilog: str | None) -> list[str]:
    return [line for line in (epilog or "").splitlines() if line.strip()]


class ToolCommand(TyperCommand):
    """A command whose help is drawn from its parameters' own metavars, help and defaults."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        """[OPTIONS] then each argument's metavar (typer would print `{trace}`)."""
        pieces = [self.options_metavar or "[OPTIONS]"]
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(param.metavar or (param.name or "ARG").upper())
        return pieces

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Usage, description, arguments, options, examples."""
        self.format_usage(ctx, formatter)
        _write_description(self.help, formatter)
        _write_params(self.get_params(ctx), formatter)
        write_examples(_examples(self.epilog), formatter)


class ToolGroup(TyperGroup):
    """The `llmsim` group: usage, description, options, commands, examples."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Usage, description, options, the commands with their one-line summaries, examples."""
        self.format_usage(ctx, formatter)
        _write_description(self.help, formatter)
        _write_params(self.get_params(ctx), formatter)
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=70)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
        write_examples(_examples(self.epilog), formatter)
