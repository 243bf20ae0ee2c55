"""The errors llmsim reports to its user, and the exit status each one means.

Deeper layers raise these with a one-line message meant for the user as it is; the command
line (`llmsim.cli`) is the one place that prints them and exits. Any other exception that
reaches the command line is a bug and is reported as an internal error (exit 70).
"""

from __future__ import annotations

from typing import ClassVar, Final

EXIT_OK: Final = 0
EXIT_INPUT: Final = 1  # a bad trace, an unreadable file, a failed write
EXIT_USAGE: Final = 2  # a bad option or argument
EXIT_INTERNAL: Final = 70  # EX_SOFTWARE: a bug of ours
# What a bug report needs (there is no public issue tracker to link to).
BUG_REPORT: Final = "the traceback LLMSIM_DEBUG=1 prints and the output of `llmsim --version`"
PROG: Final = "llmsim"
ERROR_PREFIX: Final = f"{PROG}: error: "  # how every error line starts


class LlmsimError(Exception):
    """A problem to report to the user as one line; `status` is the exit status it means."""

    status: ClassVar[int] = EXIT_INPUT


class UsageError(LlmsimError):
    """A bad option, argument or combination of them (exit 2)."""

    status: ClassVar[int] = EXIT_USAGE


class InputError(LlmsimError):
    """Bad input or a failed write; the message names the file (exit 1)."""

    status: ClassVar[int] = EXIT_INPUT
