"""The `llmsim` command line: one module per command, wired here; `main` is the one exit path.

Parsing and wiring only: each command module checks its options and calls the generator or
the player; `main` turns whatever escapes into one line on stderr and an exit status
(`llmsim.cli.report` decides which). Heavy modules (numpy, pyarrow, the player, the
generator) are imported inside the commands that need them, so `llmsim --help` starts fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final

import typer

from llmsim.cli import cast, generate, info, listing, play, report
from llmsim.cli.helpfmt import ToolCommand, ToolGroup
from llmsim.cli.signals import Terminated
from llmsim.cli.stdio import (
    STDOUT_CLOSED,
    discard_stdout,
    guard_standard_streams,
    is_closed_stdout,
    quiet_stdout,
)
from llmsim.errors import EXIT_INPUT, EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGPIPE, TerminalGone

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
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        from llmsim import __version__

        typer.echo(f"llmsim {__version__}")
        raise typer.Exit()


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


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: run the app; every error becomes one line and a status."""
    closed = guard_standard_streams()
    try:
        result = app(
            args=None if argv is None else list(argv), prog_name="llmsim", standalone_mode=False
        )
        sys.stdout.flush()  # here, where a failure is said in one line, not at exit
    except _ClickUsageError as exc:
        return _usage_error(exc)
    except _ClickException as exc:
        report.error(exc.format_message())  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    except SystemExit as exc:  # typer's completion options exit from their callbacks
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except Terminated as exc:  # SIGTERM/SIGHUP while writing: quiet, like Ctrl-C
        discard_stdout()  # what is still buffered would block the exit on a pipe nobody reads
        return exc.status
    except TerminalGone:  # the terminal was closed: as SIGHUP, with nobody left to tell
        quiet_stdout()
        return EXIT_SIGHUP
    except KeyboardInterrupt:
        discard_stdout()
        return EXIT_SIGINT
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_SIGPIPE
    except OSError as exc:
        if not is_closed_stdout(exc, closed):
            return report.fail(exc)
        quiet_stdout()  # or the interpreter's last flush fails again on the way out
        report.error(STDOUT_CLOSED)
        return EXIT_INPUT
    except Exception as exc:  # LlmsimError, MemoryError or a bug: report.status_of decides
        return report.fail(exc)
    return result if isinstance(result, int) else 0


def _usage_error(exc: Exception) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `llmsim`: the help, successfully
        typer.echo(exc.format_message().rstrip())  # type: ignore[attr-defined]
        return 0
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "llmsim"
    report.error(f"{exc.format_message()} (see '{command} --help')")  # type: ignore[attr-defined]
    return int(getattr(exc, "exit_code", 2))
