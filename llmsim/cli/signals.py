"""Stop signals while the command line writes files.

While a file is being written, Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGQUIT (Ctrl-\\) unwind
the program by raising `Terminated`, so the atomic writer removes its temp file before the
process ends with 128 + the signal number (130, 143, 129, 131) instead of dying with the file
half-written (SIGQUIT would also dump core). An exception raised by a signal handler can be
lost: C code that checks for signals (numpy, pyarrow) may clear the error and carry on. So
until the write has unwound, the exception is raised again every RETRY seconds (SIGALRM);
further stop signals meanwhile are ignored, so they cannot cut the clean-up short.
SIGHUP, SIGQUIT and SIGALRM do not exist on every OS: they are looked up, never named at
import time.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Final

EXIT_SIGPIPE: Final = 128 + 13  # what a shell reports for a process ended by SIGPIPE
EXIT_SIGINT: Final = 128 + 2


RETRY: Final = 0.25  # seconds after which a stop that was swallowed is raised again


def stop_signals() -> tuple[signal.Signals, ...]:
    """SIGINT and SIGTERM, and SIGHUP and SIGQUIT where the OS has them."""
    names = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
    return tuple(getattr(signal, n) for n in names if hasattr(signal, n))


class Terminated(BaseException):
    """SIGTERM, SIGHUP or SIGQUIT while a file is written: unwinds like Ctrl-C, so temp files go.

    A BaseException, so no `except Exception` swallows it, and not a KeyboardInterrupt,
    which typer turns into exit status 130 whatever the signal was.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def status(self) -> int:
        """The shell's exit status for this signal (143 SIGTERM, 129 SIGHUP, 131 SIGQUIT)."""
        return 128 + self.signum


class _Stop:
    """The stop signal that came while writing (None: none yet)."""

    signum: int | None = None


def _alarm(seconds: float) -> None:
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, seconds)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While writing files, the stop signals raise Terminated instead of killing at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stop = _Stop()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if stop.signum is None:  # the first one: unwind; later ones: let the clean-up finish
            stop.signum = signum
            _alarm(RETRY)
            raise Terminated(signum)

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if stop.signum is not None:  # still writing: the exception was swallowed
            _alarm(RETRY)
            raise Terminated(stop.signum)
        if callable(previous):  # someone else's alarm (a test harness's timeout)
            previous(signum, frame)

    saved = {sig: signal.signal(sig, on_stop) for sig in stop_signals()}
    previous = signal.signal(signal.SIGALRM, on_alarm) if hasattr(signal, "SIGALRM") else None
    try:
        yield
    except Exception:
        if stop.signum is not None:  # C code turned the stop into an error of its own
            raise Terminated(stop.signum) from None
        raise
    finally:
        if stop.signum is not None:
            _alarm(0)
        if hasattr(signal, "SIGALRM"):
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
