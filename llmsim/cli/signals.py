"""Stop signals while the command line writes files.

While a file is being written, every stop signal (`llmsim.errors.stop_signals`: Ctrl-C,
SIGTERM, SIGHUP, Ctrl-\\, SIGUSR1, SIGXCPU, ...) unwinds the program by raising `Terminated`,
so the atomic writer removes its temp file before the process ends with 128 + the signal
number (130, 143, 129, 131, ...) instead of dying with the file half-written. A signal that
was ignored when llmsim started stays ignored: `nohup llmsim generate` outlives its terminal.
An exception raised by a signal handler can be lost: C code that checks for signals (numpy,
pyarrow) may clear the error and carry on. So until the write has unwound, the exception is
raised again every RETRY seconds (SIGALRM); further stop signals meanwhile are ignored, so
they cannot cut the clean-up short. SIGALRM is a stop signal too, unless someone else's
handler (a test harness's timeout) has it: then an alarm that is not ours goes to them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Final

from llmsim.errors import signal_status, stop_signals, takes_over

RETRY: Final = 0.25  # seconds after which a stop that was swallowed is raised again


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
        return signal_status(self.signum)


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
        elif previous != signal.SIG_IGN:  # an alarm nobody asked for: a stop like the others
            on_stop(signum, frame)

    alarm = getattr(signal, "SIGALRM", None)
    saved = {
        sig: signal.signal(sig, on_stop)
        for sig in stop_signals()
        if sig != alarm and takes_over(sig)
    }
    previous = signal.signal(alarm, on_alarm) if alarm is not None else None
    try:
        yield
    except Exception:
        if stop.signum is not None:  # C code turned the stop into an error of its own
            raise Terminated(stop.signum) from None
        raise
    finally:
        if stop.signum is not None:
            _alarm(0)
        if alarm is not None:
            signal.signal(alarm, previous if previous is not None else signal.SIG_DFL)
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
