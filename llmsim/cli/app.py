"""The `llmsim` command line as a typer app: one module per command, wired here.

Parsing and wiring only: each command module checks its options and calls the generator or
the player; `run` turns typer's usage errors into one line and a status, and leaves the rest to
`llmsim.cli.entry.main`, the one exit path (`llmsim.cli.report` decides the status). Heavy
modules (numpy, pyarrow, the player, the generator) are imported inside the commands that need
them, so `llmsim --help` starts fast; `llmsim play` usually does not come here at all
(`llmsim.cli.quickplay`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final

import typer

from llmsim.cli import cast, completion, generate, info, listing, play, report
from llmsim.cli.helpfmt import ToolCommand, ToolGroup
from llmsim.cli.stdio import discard_stdout, quiet_stdout
from llmsim.errors import EXIT_SIGINT, EXIT_SIGPIPE, PROG

# typer vendors click (typer._click) where older releases used click itself: the exception
# classes are found through typer's public BadParameter instead of importing either.
_CLICK = {c.__name__: c for c in typer.BadParameter.__mro__}
_ClickUsageError: Final[type[Exception]] = _CLICK["UsageError"]
_ClickException: Final[type[Exception]] = _CLICK["ClickException"]

EXAMPLES: Final = (
    "llmsim play",
    "llmsim list",
    "llmsim play llama-3-8b-sft --speed 10 --exit-after 5m",
    "llmsim generate -o runs --count 3 --seed 7",
    "llmsim cast llama-3-8b-sft -o demo.html --loop",
    "llmsim info runs/*.parquet",
)

app = typer.Typer(
    name="llmsim",
    cls=ToolGroup,
    epilog="\n".join(EXAMPLES),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # typer's completion protocol for bash, zsh, fish and PowerShell; its two options give way
    # to llmsim.cli.completion's of the same names (ToolGroup keeps the first declared).
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        from llmsim import __version__

        typer.echo(f"llmsim {__version__}")
        raise typer.Exit()


def _list_modules(value: bool) -> None:
    if value:  # genact's -l/--list-modules: what can play, as `llmsim list` shows it
        listing.list_command()
        raise typer.Exit()


def _completion_option(option: str) -> Callable[[str | None], None]:
    def answer(value: str | None) -> None:
        if value is not None:  # reached when not first: `llmsim` handles that case in main()
            typer.echo(completion.answer(option, value, completion_script))
            raise typer.Exit()

    return answer


def completion_script(shell: str) -> str:
    """The completion script for `shell`, as the completion protocol prints it
    (`_LLMSIM_COMPLETE=source_<shell> llmsim`), run here rather than in a second process."""
    buffer = io.StringIO()
    saved = os.environ.get(completion.COMPLETE_VAR)
    os.environ[completion.COMPLETE_VAR] = f"source_{shell}"
    try:
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            app(args=[], prog_name=PROG, standalone_mode=False)
    finally:
        if saved is None:
            del os.environ[completion.COMPLETE_VAR]
        else:
            os.environ[completion.COMPLETE_VAR] = saved
    return buffer.getvalue().strip()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "-V",
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Print the version and exit.",
        ),
    ] = False,
    list_modules: Annotated[
        bool,
        typer.Option(
            "-l",
            "--list-modules",
            is_eager=True,
            callback=_list_modules,
            help="List the bundled runs and exit (genact's spelling of `llmsim list`).",
        ),
    ] = False,
    install_completion: Annotated[
        str | None,
        typer.Option(
            completion.INSTALL_OPTION,
            metavar="[SHELL]",
            is_eager=True,
            callback=_completion_option(completion.INSTALL_OPTION),
            help="Install tab completion (commands, options, run names, stacks, models, GPU "
            f"types) for {', '.join(completion.INSTALLABLE)}; the shell llmsim runs in if "
            "omitted.",
            autocompletion=completion.completer(completion.INSTALLABLE),
            show_default=False,
        ),
    ] = None,
    show_completion: Annotated[
        str | None,
        typer.Option(
            *completion.SHOW_OPTIONS,
            metavar="[SHELL]",
            is_eager=True,
            callback=_completion_option(completion.SHOW_OPTIONS[0]),
            help="Print the completion script for bash, zsh, fish or powershell, to install "
            "by hand (genact's --print-completions).",
            autocompletion=completion.completer(completion.SHOWABLE),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a terminal look like a large language model is training on a GPU cluster.

    `generate` precomputes runs into Parquet traces; `play` streams them with their original
    timing; `cast` exports them as asciinema recordings, HTML pages or GIFs.
    """


def _guarded(command: Callable[..., None]) -> Callable[..., None]:
    """Run a command so that a closed pipe ends it quietly (exit 141) and Ctrl-C with 130."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except BrokenPipeError:  # `llmsim list | head -1`: the reader has all it wants
            quiet_stdout()
            raise typer.Exit(EXIT_SIGPIPE) from None
        except KeyboardInterrupt:
            discard_stdout()
            raise typer.Exit(EXIT_SIGINT) from None

    return run


def _register(name: str, command: Callable[..., None], examples: Sequence[str]) -> None:
    app.command(name, cls=ToolCommand, epilog="\n".join(examples))(_guarded(command))


_register("generate", generate.generate, generate.EXAMPLES)
_register("play", play.play, play.EXAMPLES)
_register("cast", cast.cast, cast.EXAMPLES)
_register("info", info.info, info.EXAMPLES)
_register("list", listing.list_command, listing.EXAMPLES)


def run(args: list[str]) -> int:
    """Run the typer app on `args`; typer's (click's) errors become one line and a status.

    Everything else propagates to `llmsim.cli.entry.main`, the one exit path, which also
    takes `play` the quick way, without typer, when it can (`llmsim.cli.quickplay`).
    """
    try:
        asked = completion.request(args)
        if asked is not None:
            typer.echo(completion.answer(*asked, completion_script))
            return 0
        result = app(args=args, prog_name=PROG, standalone_mode=False)
        sys.stdout.flush()  # here, where a failure is said in one line, not at exit
    except _ClickUsageError as exc:
        return _usage_error(exc)
    except _ClickException as exc:
        report.error(exc.format_message())  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    except SystemExit as exc:  # typer's completion options exit from their callbacks
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return result if isinstance(result, int) else 0


def _usage_error(exc: Exception) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `llmsim`: the help, successfully
        typer.echo(exc.format_message().rstrip())  # type: ignore[attr-defined]
        return 0
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "llmsim"
    report.error(f"{exc.format_message()} (see '{command} --help')")  # type: ignore[attr-defined]
    return int(getattr(exc, "exit_code", 2))
