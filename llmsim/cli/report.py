"""The one place that prints errors and warnings and decides the exit status of an error.

Every message reaches the terminal as one inert line through `llmsim.sanitize`: a path or an
argument holding an escape sequence or a newline prints as visible, harmless text.

    llmsim.errors.UsageError (and click's usage errors)   2   bad option or argument
    llmsim.errors.InputError (TraceError, failed writes)   1   the message names the file
    OSError that no layer turned into an InputError        1   the OS's words and the file
    MemoryError (a malloc failed, e.g. under ulimit -v)     1   "not enough memory"
    any other exception (a bug)                           70   "internal error", what a bug
                                                               report needs (LLMSIM_DEBUG=1)
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Final, TextIO

from llmsim.errors import (
    BUG_REPORT,
    ERROR_PREFIX,
    EXIT_INPUT,
    EXIT_INTERNAL,
    PROG,
    LlmsimError,
    os_reason,
)
from llmsim.sanitize import MAX_MESSAGE, clean

DEBUG_ENV: Final = "LLMSIM_DEBUG"
NO_MEMORY: Final = "not enough memory (a memory limit such as ulimit -v, or a trace too big)"


def _write(stream: TextIO, line: str) -> None:
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):  # stderr closed or gone: nothing better to do
        pass


def one_line(message: str) -> str:
    """`message` made inert and joined onto one line (what every printed message becomes)."""
    return " ".join(clean(message, MAX_MESSAGE).split())


def error(message: str) -> None:
    """Print `llmsim: error: <message>` on stderr."""
    _write(sys.stderr, f"{ERROR_PREFIX}{one_line(message)}")


def warn(message: str) -> None:
    """Print `llmsim: warning: <message>` on stderr: the `report` callback of play and cast."""
    _write(sys.stderr, f"{PROG}: warning: {one_line(message)}")


def status_of(exc: BaseException) -> int:
    """The exit status an exception stands for (70 for anything that is not the user's)."""
    if isinstance(exc, LlmsimError):
        return exc.status
    if isinstance(exc, (OSError, MemoryError)):
        return EXIT_INPUT
    return EXIT_INTERNAL


def message_of(exc: BaseException) -> str:
    """What to tell the user about `exc` (one line; no traceback)."""
    if isinstance(exc, LlmsimError):
        return str(exc)
    if isinstance(exc, OSError):
        reason = os_reason(exc)
        return f"{exc.filename}: {reason}" if exc.filename else reason
    if isinstance(exc, MemoryError):
        return NO_MEMORY
    return (
        f"internal error: {type(exc).__name__}: {exc} -- this is a bug in llmsim; please "
        f"report it with {BUG_REPORT}"
    )


def fail(exc: BaseException) -> int:
    """Report `exc` as one line (a bug's traceback too when LLMSIM_DEBUG is set); its status."""
    status = status_of(exc)
    if status == EXIT_INTERNAL and os.environ.get(DEBUG_ENV):
        with contextlib.suppress(OSError, ValueError):
            traceback.print_exception(exc, file=sys.stderr)
    error(message_of(exc))
    return status
