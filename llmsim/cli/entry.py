"""`llmsim`, the console script: the one exit path, and the quick way into `play`.

Every error that escapes a command becomes one line on stderr and an exit status here
(`llmsim.cli.report` decides which). `llmsim play` with options read without typer
(`llmsim.cli.quickplay`) goes straight to the player: typer and the pydantic it coerces with
(about 0.1 s of imports) stay off the way to the first frame. Anything else, or anything the
quick reading is not sure of, goes through the typer app (`llmsim.cli.app`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from llmsim.cli import quickplay, report
from llmsim.cli.signals import Terminated
from llmsim.cli.stdio import (
    STDOUT_CLOSED,
    discard_stdout,
    guard_standard_streams,
    is_closed_stdout,
    quiet_stdout,
)
from llmsim.errors import EXIT_INPUT, EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGPIPE, TerminalGone


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: run the command; every error becomes one line and a status."""
    closed = guard_standard_streams()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        quick = quickplay.parse(args, os.environ)
        if quick is not None:
            from llmsim.cli import playing

            return playing.run(**quick)
        from llmsim.cli.app import run

        return run(args)
    except Terminated as exc:  # SIGTERM/SIGHUP while writing: quiet, like Ctrl-C
        discard_stdout()  # what is still buffered would block the exit on a pipe nobody reads
        return exc.status
    except TerminalGone:  # the terminal was closed: as SIGHUP, with nobody left to tell
        quiet_stdout()
        return EXIT_SIGHUP
    except KeyboardInterrupt:
        discard_stdout()
        return EXIT_SIGINT
    except BrokenPipeError:  # `llmsim list | head -1`: the reader has all it wants
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
