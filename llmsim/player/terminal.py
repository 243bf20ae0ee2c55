"""The terminal sink: the only place that writes playback bytes, one frame per write.

TTY mode draws logs above a live region with cursor control; line mode (stdout is a pipe or a
file) prints plain log lines. Signals only set flags (a handler that writes or exits could cut a
frame in half); the loop notices them because the signal also wakes its sleep through a
wake-up pipe (signal.set_wakeup_fd).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Final

from llmsim.player.clock import Clock
from llmsim.player.live import LiveRegion
from llmsim.player.show import Beat

MAX_PENDING_LINES: Final = 2_000  # log lines held back while behind before forcing a write
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Output:
    """Writes whole strings to a file descriptor, riding out partial writes and EAGAIN."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, text: str) -> None:
        if not text:
            return
        view = memoryview(text.encode("utf-8", "replace"))
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:  # a non-blocking tty or pipe is full: wait until writable
                select.select([], [self.fd], [], 1.0)
                continue
            view = view[written:]


class Signals:
    """Context manager: stop signals and SIGWINCH set flags and wake the sleeping loop."""

    def __init__(self, watch_resize: bool) -> None:
        self.stop_status: int | None = None
        self.resized = False
        self._watch_resize = watch_resize
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
        if signum == signal.SIGWINCH:
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


class TerminalSink:
    """Plays a beat stream on a terminal (TTY mode) or as plain lines (line mode)."""

    def __init__(
        self,
        fd: int,
        tty: bool,
        clock: Clock,
        signals: Signals,
        size: Callable[[], tuple[int, int]],
        on_write: Callable[[float, float], None] | None = None,
    ) -> None:
        self.out = Output(fd)
        self.tty = tty
        self.clock = clock
        self.signals = signals
        self.size = size
        self.width, self.height = size() if tty else (80, 24)
        self.region = LiveRegion(self.width)
        self.on_write = on_write  # debug hook: (beat time, seconds late) per write
        self.frames = 0
        self.skipped = 0
        self._last: Beat | None = None
        self._pending: list[str] = []
        self._started = False
        # The region of the next beat, laid out before its deadline: (beat, width, height, lines)
        self._ready: tuple[Beat, int, int, list[str]] | None = None

    def start(self) -> None:
        if self.tty:
            self.out.write(self.region.start())
        self._started = True

    def run(self, beats: Iterator[Beat], exit_after: float | None) -> int:
        """Play until the stream ends (0), exit_after passes (0) or a stop signal (128+n)."""
        for beat in beats:
            self._prepare(beat)
            while self.clock.sleep_until(beat.at, exit_after):
                if self.signals.stop_status is not None:
                    return self.signals.stop_status
                if self.signals.resized:
                    self._resize()
            if self.signals.stop_status is not None:
                return self.signals.stop_status
            if exit_after is not None and self.clock.elapsed() >= exit_after:
                return 0
            if self.signals.resized:
                self._resize()
            self._show(beat)
        self._flush()
        return 0

    def _prepare(self, beat: Beat) -> None:
        """Lay the region out before the beat's deadline, so that only the write is left then.

        A frame's lateness is then the sleep's wake-up latency, not the render time.
        """
        self._ready = None
        if self.tty and beat.live and not self.clock.due(beat.at):
            lines = beat.region(self.width, self.height)
            self._ready = (beat, self.width, self.height, lines)

    def _region(self, beat: Beat) -> list[str]:
        ready = self._ready
        if ready is not None and ready[0] is beat and ready[1:3] == (self.width, self.height):
            return ready[3]
        return beat.region(self.width, self.height)

    def _behind(self, beat: Beat) -> bool:
        """The next beat is already due: this one's frame would be overwritten at once."""
        return beat.next_at is not None and self.clock.due(beat.next_at)

    def _show(self, beat: Beat) -> None:
        self._last = beat
        behind = self._behind(beat)
        if not self.tty:
            self._pending.extend(beat.logs)
            if not behind or len(self._pending) >= MAX_PENDING_LINES:
                self._flush()
            return
        if not beat.logs and (not beat.live or behind):
            self.skipped += beat.live  # coalesced: the next frame shows the newer state
            return
        self._pending.extend(beat.logs)
        if behind and len(self._pending) < MAX_PENDING_LINES:
            return  # hold the logs for the next frame: one write instead of many
        self._write_frame(beat)

    def _write_frame(self, beat: Beat) -> None:
        logs, self._pending = self._pending, []
        frame = self.region.frame(logs, self._region(beat))
        self.out.write(frame)
        self.frames += 1
        if self.on_write is not None:
            self.on_write(beat.at, self.clock.behind(beat.at))

    def _flush(self) -> None:
        if not self._pending:
            return
        if self.tty and self._last is not None:
            self._write_frame(self._last)
            return
        text = "\n".join(self._pending) + "\n"
        self._pending = []
        self.out.write(text)
        self.frames += 1

    def _resize(self) -> None:
        self.signals.resized = False
        if not self.tty:
            return
        with contextlib.suppress(OSError):
            self.width, self.height = self.size()
        self.region.resized(self.width, self.height)
        if self._last is not None:
            self._write_frame(self._last)  # re-lay the region out for the new size at once

    def report(self, message: str) -> None:
        """Show an error line without corrupting the region: clear it, then write to stderr."""
        if self.tty and self._started:
            self.out.write(self.region.frame(self._pending, []))
            self._pending = []
        os.write(2, f"llmsim: {message}\n".encode("utf-8", "replace"))

    def close(self) -> None:
        """Restore the terminal: region left tidy, cursor below it and visible, colours reset."""
        if not self._started:
            return
        self._started = False
        try:
            self._flush()
        finally:
            if self.tty:
                self.out.write(self.region.close())


def is_broken_pipe(exc: OSError) -> bool:
    """EPIPE (reader went away) or a reset connection."""
    return isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.ECONNRESET)
