"""Stop signals and SIGWINCH, turned into flags that wake the scheduler's sleep.

Handlers only set flags: one that wrote or exited could cut a frame in half. The sleep is a
select() on a wake-up pipe (signal.set_wakeup_fd), so a signal ends it at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from types import FrameType
from typing import Final

# SIGHUP is POSIX-only: on a platform without it only SIGINT and SIGTERM stop playback.
STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Signals:
    """Context manager: stop signals and SIGWINCH set flags and wake the sleeping loop."""

    def __init__(self, watch_resize: bool) -> None:
        self.stop_status: int | None = None
        self.resized = False
        self._watch_resize = watch_resize and hasattr(signal, "SIGWINCH")
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
        watched = list(STOP_SIGNALS) + ([signal.SIGWINCH] if self._watch_resize else [])
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
        if self._watch_resize and signum == signal.SIGWINCH:
            self.resized = True
            return
        if self.stop_status is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C while stopping: leave at once
        self.stop_status = 128 + signum

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if a signal cut it short."""
        if self._pipe is None:
            select.select([], [], [], seconds)
            return self.stop_status is not None
        readable, _, _ = select.select([self._pipe[0]], [], [], seconds)
        if readable:
            with contextlib.suppress(OSError):
                while os.read(self._pipe[0], 512):
                    pass
            return True
        return False
