"""The standard streams when the caller closed them (`>&-`, `2>&-`, `<&-`) or stopped reading.

A process started with fd 0, 1 or 2 closed would hand that number to the next file it opens
(a trace, a temp file), and whatever is printed next would land in it. So before anything
else each closed one is taken: stdin and stderr by /dev/null (a command still runs, its
messages are lost), stdout by /dev/null opened read-only, so that every write to it fails
with EBADF and the command reports "stdout is closed" the way cat and ls do, instead of
exiting 0 having shown nothing.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Final, TextIO

STDOUT_CLOSED: Final = "cannot write to stdout: it is closed"


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as exc:
        return exc.errno == errno.EBADF
    return False


def _take(fd: int, flags: int) -> None:
    """Open /dev/null as exactly `fd` (the lowest free number is `fd`: the lower ones are open)."""
    null = os.open(os.devnull, flags)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def _text(fd: int) -> TextIO:
    return open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False)


def guard_standard_streams() -> frozenset[int]:
    """Take every closed standard fd (see the module's docstring); the fds that were closed.

    Python leaves sys.stdout/sys.stderr None for a closed fd; they become text streams on the
    taken fds, so printing goes through the one error path instead of vanishing.
    """
    closed = frozenset(fd for fd in (0, 1, 2) if _closed(fd))
    for fd in sorted(closed):
        _take(fd, os.O_RDONLY if fd in (0, 1) else os.O_WRONLY)
    if sys.stdout is None:
        sys.stdout = _text(1)
    if sys.stderr is None:
        sys.stderr = _text(2)
    return closed


def require_stdout() -> None:
    """Raise the OSError a write to stdout would, before a command that prints does any work
    (a zero-byte write: EBADF on a closed stdout, nothing at all on a working one)."""
    os.write(sys.stdout.fileno(), b"")


def is_closed_stdout(exc: BaseException, closed: frozenset[int]) -> bool:
    """True if `exc` is a write to the stdout the caller closed."""
    return isinstance(exc, OSError) and exc.errno == errno.EBADF and 1 in closed


def quiet_stdout() -> None:
    """stdout's reader went away (or never was): point stdout at /dev/null so that the
    interpreter's final flush does not raise a second error (and print a traceback) on exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
