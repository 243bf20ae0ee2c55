"""The standard streams: closed by the caller (`>&-`, `2>&-`, `<&-`), unread, short of room.

A process started with fd 0, 1 or 2 closed would hand that number to the next file it opens
(a trace, a temp file), and whatever is printed next would land in it. So before anything
else each closed one is taken: stdin and stderr by /dev/null (a command still runs, its
messages are lost), stdout by /dev/null opened read-only, so that every write to it fails
with EBADF and the command reports "stdout is closed" the way cat and ls do, instead of
exiting 0 having shown nothing.

Writes to stdout and stderr are whole or fail loudly. Python's own streams drop bytes in two
cases: a pipe another process made non-blocking (its writes return "would block", which the
unbuffered layer of PYTHONUNBUFFERED=1 takes as nothing written, and the buffered one turns
into an error at exit: status 120 and a three-line message), and a write the OS takes only
part of (a file-size limit, a full disk), whose rest the unbuffered layer forgets. So they
go through `WholeWrites`: it writes until every byte is out, waits for room in a
non-blocking pipe, and says what failed: `cannot write to stdout: File too large` (exit 1);
a terminal that went away (EIO) ends the command as SIGHUP would (129).
"""

from __future__ import annotations

import errno
import io
import os
import select
import sys
from typing import Final, TextIO

from llmsim.errors import InputError, TerminalGone, os_reason

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
    """Take every closed standard fd and make writes to stdout and stderr whole (see the
    module's docstring); the fds that were closed.

    Python leaves sys.stdout/sys.stderr None for a closed fd; they become text streams on the
    taken fds, so printing goes through the one error path instead of vanishing. The streams
    are replaced only when they are the interpreter's own (a caller that swapped in its own,
    such as a test capturing output, keeps it).
    """
    closed = frozenset(fd for fd in (0, 1, 2) if _closed(fd))
    for fd in sorted(closed):
        _take(fd, os.O_RDONLY if fd in (0, 1) else os.O_WRONLY)
    if sys.stdout is None:
        sys.stdout = _text(1)
    elif sys.stdout is sys.__stdout__:
        sys.stdout = _whole(sys.__stdout__, "stdout")
    if sys.stderr is None:
        sys.stderr = _text(2)
    elif sys.stderr is sys.__stderr__:
        sys.stderr = _whole(sys.__stderr__, None)
    return closed


class WholeWrites(io.RawIOBase):
    """A file descriptor whose writes write every byte or raise (see the module's docstring).

    `name`: what to call it in an error ("stdout"); None: OS errors pass on as they are.
    """

    def __init__(self, fd: int, name: str | None) -> None:
        super().__init__()
        self._fd = fd
        self._name = name
        self._tty = os.isatty(fd)  # asked now: a terminal that hung up is no tty any more
        self._failed = False  # a write failed (and was said): the rest goes nowhere

    def writable(self) -> bool:
        """Always: it writes."""
        return True

    def fileno(self) -> int:
        """The descriptor written to."""
        return self._fd

    def isatty(self) -> bool:
        """True if the descriptor was a terminal when the stream was made."""
        return self._tty

    def write(self, data: object) -> int:
        """Write all of `data`; the number of bytes (all of them)."""
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        total = len(view)
        while view and not self._failed:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:  # a non-blocking pipe is full: wait for its reader
                select.select([], [self._fd], [])
            except OSError as exc:
                # Said once; what is still buffered must not fail again at exit (status 120).
                self._failed = exc.errno != errno.EBADF
                raise self._error(exc) from None
        return total

    def discard(self) -> None:
        """Write nothing more: every later write is dropped (and said to have been written)."""
        self._failed = True

    def _error(self, exc: OSError) -> BaseException:
        if self._name is None or exc.errno in (errno.EPIPE, errno.EBADF):
            return exc  # a reader gone (141) and a closed stdout are said where they are caught
        if exc.errno == errno.EIO and self._tty:
            return TerminalGone()
        return InputError(f"cannot write to {self._name}: {os_reason(exc)}")


def _whole(stream: io.TextIOWrapper | None, name: str | None) -> TextIO:
    """`stream` as it was set up (encoding, error handler, buffering), written through
    WholeWrites."""
    assert stream is not None  # the caller checked
    raw = WholeWrites(stream.fileno(), name)
    return io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=stream.encoding,
        errors=stream.errors,
        newline="\n",
        line_buffering=bool(stream.line_buffering),
        write_through=getattr(stream, "write_through", False),
    )


def require_stdout() -> None:
    """Raise the error a write to stdout would, before a command that prints does any work
    (a zero-byte write: EBADF on a closed stdout, ENOSPC on /dev/full, nothing at all on a
    working one)."""
    try:
        os.write(sys.stdout.fileno(), b"")
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise  # said as "it is closed" by the command line
        raise InputError(f"cannot write to stdout: {os_reason(exc)}") from None


def is_closed_stdout(exc: BaseException, closed: frozenset[int]) -> bool:
    """True if `exc` is a write to the stdout the caller closed."""
    return isinstance(exc, OSError) and exc.errno == errno.EBADF and 1 in closed


def discard_stdout() -> None:
    """A stop signal ended the command: what stdout still buffers is dropped, not written at
    exit (to a pipe nobody reads, that last flush would block the exit forever)."""
    raw = getattr(getattr(sys.stdout, "buffer", None), "raw", None)
    if isinstance(raw, WholeWrites):
        raw.discard()


def quiet_stdout() -> None:
    """stdout's reader went away (or never was): point stdout at /dev/null so that the
    interpreter's final flush does not raise a second error (and print a traceback) on exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
