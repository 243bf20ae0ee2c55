"""Stop, suspend and resize signals, turned into flags that wake the scheduler's sleep.

Handlers only set flags: one that wrote or exited could cut a frame in half. The sleep is a
select() on a wake-up pipe (signal.set_wakeup_fd), so a signal ends it at once.

- The stop signals (`llmsim.errors.stop_signals`: Ctrl-C, SIGTERM, SIGHUP, Ctrl-\\, SIGUSR1,
  SIGALRM, SIGXCPU, SIGPWR, ...) stop playback with 128 + the signal number, the terminal
  restored. One ignored when llmsim started stays ignored (`nohup llmsim play`), and one with
  a handler of someone else's keeps it (`llmsim.errors.takes_over`).
- On a terminal, SIGTSTP (Ctrl-Z) asks the scheduler to restore the terminal and then stop
  the process for real (`suspend`); SIGCONT (`fg`, or after a SIGSTOP nobody could catch)
  asks it to draw the live region again. SIGWINCH asks it to lay the region out again.

Signals a platform lacks (Windows has no SIGHUP, SIGQUIT, SIGTSTP, SIGCONT or SIGWINCH) are
looked up by name, never named at import time.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from types import FrameType
from typing import Final

from llmsim.errors import signal_status, stop_signals, takes_over
from llmsim.player.scheduler.clock import MAX_SLEEP


def _signals(*names: str) -> tuple[signal.Signals, ...]:
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


_SUSPEND: Final = _signals("SIGTSTP")
_CONTINUE: Final = _signals("SIGCONT")
_RESIZE: Final = _signals("SIGWINCH")


class Signals:
    """Context manager: stop signals, suspend/continue and SIGWINCH set flags and wake the
    sleeping loop. `terminal`: the output is a terminal whose state the player changes (only
    then are Ctrl-Z, `fg` and resizes handled; elsewhere they keep their default action)."""

    def __init__(self, terminal: bool) -> None:
        self.stop_status: int | None = None
        self.resized = False
        self.suspend_asked = False  # Ctrl-Z: restore the terminal, then stop
        self.continued = False  # the process was stopped and continued: redraw
        self._terminal = terminal
        self._saved: dict[int, signal._HANDLER] = {}
        self._pipe: tuple[int, int] | None = None
        self._old_wakeup = -1

    def __enter__(self) -> Signals:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals can only be handled in the main thread; sleeps stay plain
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._pipe = (r, w)
        self._old_wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        watched = [sig for sig in stop_signals() if takes_over(sig)]
        watched += (*_SUSPEND, *_CONTINUE, *_RESIZE) if self._terminal else ()
        for sig in watched:
            self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved.clear()
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum in _RESIZE:
            self.resized = True
        elif signum in _SUSPEND:
            self.suspend_asked = True
        elif signum in _CONTINUE:
            self.continued = True
        elif self.stop_status is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C while stopping: leave at once
        else:
            self.stop_status = signal_status(signum)

    @property
    def pending(self) -> bool:
        """True if a flag waits to be handled."""
        return self.stop_status is not None or self.resized or self.suspend_asked or self.continued

    def suspend(self) -> None:
        """Stop the process now, as Ctrl-Z would have (the caller restored the terminal);
        returns when it is continued."""
        self.suspend_asked = False
        if not _SUSPEND or signal.SIGTSTP not in self._saved:
            return
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signal.SIGTSTP)  # stops here until SIGCONT
        finally:
            signal.signal(signal.SIGTSTP, self._handle)
        self.continued = False  # the caller redraws after this; no second time

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds` (at most MAX_SLEEP at once); True if a signal cut it short."""
        seconds = min(seconds, MAX_SLEEP)
        if self._pipe is None:
            select.select([], [], [], seconds)
            return self.pending
        readable, _, _ = select.select([self._pipe[0]], [], [], seconds)
        if readable:
            with contextlib.suppress(OSError):
                while os.read(self._pipe[0], 512):
                    pass
            return True
        return False
