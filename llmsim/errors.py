"""What llmsim tells its user when things end: the errors, the exit statuses, the stop signals.

The one home of these facts. Deeper layers raise the errors below with a one-line message
meant for the user as it is; the command line (`llmsim.cli`) is the one place that prints them
and exits. Any other exception that reaches the command line is a bug and is reported as an
internal error (exit 70). `one_line` and `os_reason` are the one way an exception (a library's
or the OS's) becomes the words of such a line.

A stop signal ends a command with 128 + its number (the shell's convention: 130 for Ctrl-C),
after the terminal is restored and temp files are removed. Stop signals are every signal whose
default action would kill the process outright, except the ones a fault raises (SIGSEGV, SIGBUS,
SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP): those are bugs, not requests. Signals a platform lacks
(Windows has only SIGINT and SIGTERM of them) are looked up by name, never named at import time.
"""

from __future__ import annotations

import errno
import os
import re
import signal
from typing import Any, ClassVar, Final

EXIT_OK: Final = 0
EXIT_INPUT: Final = 1  # a bad trace, an unreadable file, a failed write
EXIT_USAGE: Final = 2  # a bad option or argument
EXIT_INTERNAL: Final = 70  # EX_SOFTWARE: a bug of ours
# What a bug report needs (there is no public issue tracker to link to).
BUG_REPORT: Final = "the traceback LLMSIM_DEBUG=1 prints and the output of `llmsim --version`"
SIGNAL_BASE: Final = 128  # a process ended by signal N exits 128 + N, as shells report it
EXIT_SIGHUP: Final = SIGNAL_BASE + 1  # also: the terminal went away (EIO on writing to it)
EXIT_SIGINT: Final = SIGNAL_BASE + 2
EXIT_SIGPIPE: Final = SIGNAL_BASE + 13  # the reader of stdout went away (EPIPE)
PROG: Final = "llmsim"
ERROR_PREFIX: Final = f"{PROG}: error: "  # how every error line starts
MAX_REASON: Final = 160  # characters of a library's or the OS's words kept in a message

# Signals that kill by default and are requests to stop, in the order of their numbers. SIGXCPU
# comes from a CPU limit (`ulimit -t`), SIGPWR from a UPS daemon, SIGALRM/SIGVTALRM/SIGPROF
# from timers someone else set, SIGIO and SIGSTKFLT from nowhere in particular.
_STOP_NAMES: Final = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGXCPU", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR",
)  # fmt: skip


class LlmsimError(Exception):
    """A problem to report to the user as one line; `status` is the exit status it means."""

    status: ClassVar[int] = EXIT_INPUT


class UsageError(LlmsimError):
    """A bad option, argument or combination of them (exit 2)."""

    status: ClassVar[int] = EXIT_USAGE


class InputError(LlmsimError):
    """Bad input or a failed write; the message names the file (exit 1)."""

    status: ClassVar[int] = EXIT_INPUT


class TerminalGone(Exception):
    """The terminal the output goes to was closed (EIO): the process ends as on SIGHUP (129),
    with nothing more to say, since nobody is there to read it."""


def signal_status(signum: int) -> int:
    """The exit status of a command stopped by signal `signum` (130 for SIGINT)."""
    return SIGNAL_BASE + signum


def stop_signals() -> tuple[int, ...]:
    """The stop signals this platform has (see the module's docstring), real-time ones too."""
    found = [int(getattr(signal, name)) for name in _STOP_NAMES if hasattr(signal, name)]
    if hasattr(signal, "SIGRTMIN") and hasattr(signal, "SIGRTMAX"):
        found += range(signal.SIGRTMIN, signal.SIGRTMAX + 1)
    return tuple(dict.fromkeys(found))


def takes_over(sig: int) -> bool:
    """True if llmsim should handle `sig` itself: only where it would otherwise kill the process
    (the default action; Python's own Ctrl-C handler counts as default). A signal ignored on
    entry stays ignored (`nohup` ignores SIGHUP so that the command outlives its terminal), and
    one with a handler of someone else's (an embedding program, a test harness, a library's C
    code) keeps it."""
    try:
        current: Any = signal.getsignal(sig)
    except (OSError, ValueError):
        return False
    return current is not None and current in (signal.SIG_DFL, signal.default_int_handler)


def one_line(exc: BaseException | str, limit: int = MAX_REASON) -> str:
    """An exception's words (or a text) on one short line; its type's name if it says nothing."""
    text = " ".join(str(exc).split())[:limit]
    return text or (type(exc).__name__ if isinstance(exc, BaseException) else "")


# pyarrow reports the OS's error inside its own text: "... error: [errno 28] No space left ..."
_PYARROW_ERRNO: Final = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)
_WORDS: Final[dict[int, str]] = {  # the OS's words where they would mislead or shout
    errno.ENOENT: "no such file",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def os_reason(exc: BaseException, *, writing: bool = False) -> str:
    """Why an operation on a file failed, in the OS's words on one short line ("No space left
    on device"); an errno pyarrow wrapped in its own text is found and said the same way.
    `writing`: a file was being made, so a missing name is its folder."""
    number = exc.errno if isinstance(exc, OSError) else None
    if number is None:
        found = _PYARROW_ERRNO.search(str(exc))
        number = int(found.group(1)) if found else None
    if writing and number == errno.ENOENT:
        return "no such folder"
    if number in _WORDS:
        return _WORDS[number]
    if isinstance(exc, OSError) and exc.strerror:
        return one_line(exc.strerror)
    if number is not None:
        return os.strerror(number)
    return one_line(exc)
