"""Stop signals while the command line writes files, and a quiet end when a pipe closes.

Ctrl-C (SIGINT) already arrives as KeyboardInterrupt. While a file is being written, SIGTERM
and SIGHUP are made to unwind the same way (raising `Terminated`), so the atomic writer
removes its temp file before the process ends with 128 + the signal number. SIGHUP does not
exist on every OS: it is looked up, never named at import time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Final

EXIT_SIGPIPE: Final = 128 + 13  # what a shell reports for a process ended by SIGPIPE
EXIT_SIGINT: Final = 128 + 2


def stop_signals() -> tuple[signal.Signals, ...]:
    """SIGTERM, and SIGHUP where the OS has it."""
    names = ("SIGTERM", "SIGHUP")
    return tuple(getattr(signal, n) for n in names if hasattr(signal, n))


class Terminated(BaseException):
    """SIGTERM or SIGHUP while a file is written: unwinds like Ctrl-C, so temp files go.

    A BaseException, so no `except Exception` swallows it, and not a KeyboardInterrupt,
    which typer turns into exit status 130 whatever the signal was.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def status(self) -> int:
        """The shell's exit status for this signal (143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + self.signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    for sig in stop_signals():  # the clean-up must not be cut short by a second signal
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While writing files, SIGTERM and SIGHUP raise Terminated instead of killing at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _raise_terminated) for sig in stop_signals()}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def quiet_stdout() -> None:
    """stdout's reader went away: point stdout at /dev/null so that the interpreter's final
    flush does not raise a second BrokenPipeError (and print a traceback) while exiting."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
