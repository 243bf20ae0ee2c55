"""Stop signals while the command line writes files.

Ctrl-C (SIGINT) already arrives as KeyboardInterrupt. While a file is being written, SIGTERM,
SIGHUP and SIGQUIT (Ctrl-\\) are made to unwind the same way (raising `Terminated`), so the
atomic writer removes its temp file before the process ends with 128 + the signal number
(143, 129, 131) instead of dying with the file half-written (SIGQUIT would also dump core).
SIGHUP and SIGQUIT do not exist on every OS: they are looked up, never named at import time.
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


def stop_signals() -> tuple[signal.Signals, ...]:
    """SIGTERM, and SIGHUP and SIGQUIT where the OS has them."""
    names = ("SIGTERM", "SIGHUP", "SIGQUIT")
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


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    for sig in stop_signals():  # the clean-up must not be cut short by a second signal
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While writing files, the stop signals raise Terminated instead of killing at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _raise_terminated) for sig in stop_signals()}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
