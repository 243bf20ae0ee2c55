"""The terminal sink: the only place that writes playback bytes to a terminal or a pipe.

Its layout's composer (sinks.compose) makes each frame's bytes, one write per frame: the tmux
layout draws the whole screen, the classic one logs above a live region, both with cursor
control; the plain layout (the default on a pipe, a file, or a terminal without cursor
addressing) prints the log lines only, whole, without cursor moves.

Writes never block for long: a terminal or a pipe is written through a non-blocking
descriptor of our own, and while it is full (Ctrl-S suspended the terminal, nobody reads the
pipe) the wait is polled so that a stop signal ends it within POLL seconds (WriteAborted).
The terminal is then restored anyway: its output is resumed (as Ctrl-Q would) and the
closing bytes get a bounded time to go out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import time
from collections.abc import Callable
from typing import Final

from llmsim.player.live.ansi import Styler
from llmsim.player.live.region import LiveRegion
from llmsim.player.options import Layout
from llmsim.player.sinks import Frame
from llmsim.player.sinks.compose import Region, composer
from llmsim.player.views.segments import View

POLL: Final = 0.1  # seconds between looks at the stop flag while the output is full
GIVE_UP: Final = 1.0  # seconds the closing bytes may wait for a full output after a stop


class WriteAborted(Exception):
    """A stop signal came while the output could take no more bytes."""


class Output:
    """Writes whole strings to a file descriptor, riding out partial writes and full outputs.

    `should_stop` is asked while the output is full; True ends the wait with WriteAborted.
    """

    def __init__(self, fd: int, should_stop: Callable[[], bool] = lambda: False) -> None:
        self.fd = fd
        self.should_stop = should_stop
        self.aborted = False  # a write was given up: the output may be stopped or unread
        self.failed: OSError | None = None  # a write the output refused (EPIPE, EIO, ENOSPC)
        self._own = _nonblocking_copy(fd)
        self._wfd = self._own if self._own is not None else fd

    def write(self, text: str, give_up: float | None = None) -> None:
        """Write all of `text` (UTF-8), or raise OSError, or WriteAborted when a stop signal
        comes (or `give_up` seconds pass) while the output is full."""
        if not text:
            return
        view = memoryview(text.encode("utf-8", "replace"))
        deadline = None if give_up is None else time.monotonic() + give_up
        while view:
            try:
                written = os.write(self._wfd, view)
            except BlockingIOError:
                self._wait(deadline)
                continue
            except OSError as exc:
                self.failed = exc  # nothing more goes to this output, not even the restore
                raise
            view = view[written:]

    def _wait(self, deadline: float | None) -> None:
        while not select.select([], [self._wfd], [], POLL)[1]:
            late = deadline is not None and time.monotonic() >= deadline
            if late or (deadline is None and self.should_stop()):
                self.aborted = True
                raise WriteAborted

    def resume(self) -> None:
        """Restart a terminal's output that Ctrl-S suspended (no-op for anything else).

        No call undoes a Ctrl-S (tcflow's TCOON undoes only TCOOFF), but a terminal restarts
        its output when IXON is turned off, so it is turned off and on again.
        """
        try:
            import termios  # POSIX only: imported where a terminal is being restored
        except ImportError:
            return
        with contextlib.suppress(OSError, termios.error):
            attrs = termios.tcgetattr(self.fd)
            if attrs[0] & termios.IXON:
                termios.tcsetattr(self.fd, termios.TCSANOW, [attrs[0] & ~termios.IXON, *attrs[1:]])
                termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
            termios.tcflow(self.fd, termios.TCOON)

    def close(self) -> None:
        """Close our own descriptor (never the caller's)."""
        if self._own is not None:
            with contextlib.suppress(OSError):
                os.close(self._own)
            self._own = None
            self._wfd = self.fd


def _nonblocking_copy(fd: int) -> int | None:
    """A non-blocking descriptor of our own for the terminal or pipe behind `fd`.

    O_NONBLOCK set on `fd` itself would be shared with the shell and every process that
    inherited it, so the terminal (by its name) or the pipe (by /proc, on Linux) is opened
    anew. None for files and devices that never block, and where the OS offers no way (then
    writes block as they always did).
    """
    try:
        mode = os.fstat(fd).st_mode
        tty = os.isatty(fd)
    except OSError:
        return None
    if not (tty or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return None
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    names = [f"/proc/self/fd/{fd}"]
    if tty:
        with contextlib.suppress(OSError):
            names.insert(0, os.ttyname(fd))
    for name in names:
        try:
            own = os.open(name, flags)
        except OSError:
            continue
        if os.path.samestat(os.fstat(own), os.fstat(fd)):
            return own
        os.close(own)
    return None


class TerminalSink:
    """Shows frames on a terminal in one of the layouts (tmux, classic), or as plain lines."""

    def __init__(
        self,
        fd: int,
        tty: bool,
        styler: Styler,
        size: Callable[[], tuple[int, int]],
        report: Callable[[str], None],
        should_stop: Callable[[], bool] = lambda: False,
        layout: Layout | None = None,
    ) -> None:
        self.out = Output(fd, should_stop)
        # Without a layout named, a terminal gets the classic region and anything else lines.
        self.layout: Layout = layout or ("classic" if tty else "plain")
        self.compose = composer(self.layout, styler, 80)
        self.tty = self.compose.cursor_control
        self.styler = styler
        self._size = size
        self.cols, self.rows = (80, 24)
        if self.tty:
            with contextlib.suppress(OSError):
                self.cols, self.rows = size()
        self.compose.resized(self.cols)
        self.report = report
        self.frames = 0
        self._last: View | None = None
        self._started = False

    @property
    def region(self) -> LiveRegion | None:
        """The classic layout's live region (None in the other layouts)."""
        return self.compose.region if isinstance(self.compose, Region) else None

    def start(self) -> None:
        """Hide the cursor (and, in tmux's layout, take the alternate screen)."""
        if self.tty:
            self.out.write(self.compose.start())
        self._started = True

    def prepare(self, view: View | None) -> None:
        """Lay the frame out now, so that only the write is left at the deadline."""
        if self.tty and view is not None:
            self.compose.prepare(view, self.cols, self.rows)

    def show(self, frame: Frame) -> None:
        """Write the frame: logs and what the layout draws, in one write."""
        if frame.view is not None:
            self._last = frame.view
        data = self.compose.frame(frame.logs, frame.view, self.cols, self.rows)
        if data:
            self.out.write(data)
            self.frames += 1

    def resize(self) -> None:
        """Take the terminal's new size and draw the layout again for it."""
        if not self.tty:
            return
        try:
            self.cols, self.rows = self._size()
        except OSError:
            return
        self.compose.resized(self.cols)
        self.out.write(self.compose.frame([], self._last, self.cols, self.rows))

    def suspend(self) -> None:
        """Before the process stops (Ctrl-Z): erase what is drawn, colours reset, cursor shown,
        so the shell gets a tidy terminal and nothing stale stays behind."""
        if self.tty and self._started:
            self.out.write(self.compose.suspend(2 if _echoes_controls(self.out.fd) else 0))

    def resume(self) -> None:
        """After the process continues (`fg`): hide the cursor, draw everything again where
        the cursor is now, for the terminal's size now."""
        if not (self.tty and self._started):
            return
        self.out.write(self.compose.start())
        self.resize()

    def notice(self, message: str) -> None:
        """Make room, then have the caller print the message."""
        if self.tty and self._started:
            self.out.write(self.compose.clear())
        self.report(message)

    def close(self, at: float) -> None:
        """Restore the terminal: nothing half-drawn, cursor visible, colours reset.

        After a write was given up, the terminal's output is resumed first and the closing
        bytes wait at most GIVE_UP seconds (nothing more is written to a pipe nobody reads).
        """
        started, self._started = self._started, False
        try:
            if started and self.tty:
                self._restore(self.compose.close())
        finally:
            self.out.close()

    def _restore(self, data: str) -> None:
        """Write the closing bytes within GIVE_UP seconds, resuming a suspended output."""
        for attempt in range(2):
            if self.out.aborted or attempt:
                self.out.resume()
            try:
                self.out.write(data, give_up=GIVE_UP)
                return
            except WriteAborted:
                continue


def _echoes_controls(fd: int) -> bool:
    """True if the terminal echoes a typed control character as two cells ("^Z")."""
    try:
        import termios  # POSIX only
    except ImportError:
        return False
    try:
        lflag = termios.tcgetattr(fd)[3]
    except (OSError, termios.error):
        return False
    return bool(lflag & termios.ECHO and lflag & termios.ECHOCTL)


def is_broken_pipe(exc: OSError) -> bool:
    """EPIPE (reader went away) or a reset connection."""
    return isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.ECONNRESET)
