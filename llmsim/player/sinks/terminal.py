"""The terminal sink: the only place that writes playback bytes to a terminal or a pipe.

TTY mode draws logs above a live region with cursor control, one frame per write; line mode
(stdout is a pipe or a file) prints the log lines only, whole, without cursor moves.
"""

from __future__ import annotations

import errno
import os
import select
from collections.abc import Callable

from llmsim.player.live.ansi import Styler
from llmsim.player.live.region import LiveRegion
from llmsim.player.sinks import Frame
from llmsim.player.views.segments import Row, View, line_row


class Output:
    """Writes whole strings to a file descriptor, riding out partial writes and EAGAIN."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, text: str) -> None:
        """Write all of `text` (UTF-8) or raise OSError."""
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


class TerminalSink:
    """Shows frames on a terminal (TTY mode) or as plain lines (line mode)."""

    def __init__(
        self,
        fd: int,
        tty: bool,
        styler: Styler,
        size: Callable[[], tuple[int, int]],
        report: Callable[[str], None],
    ) -> None:
        self.out = Output(fd)
        self.tty = tty
        self.styler = styler
        self._size = size
        self.cols, self.rows = size() if tty else (80, 24)
        self.region = LiveRegion(styler, self.cols)
        self.report = report
        self.frames = 0
        self._last: View | None = None
        self._started = False
        # The region laid out ahead of its deadline: (view, version, cols, rows) -> rows
        self._ready: tuple[tuple[int, int, int, int], list[Row]] | None = None

    def start(self) -> None:
        """Hide the cursor (TTY mode)."""
        if self.tty:
            self.out.write(self.region.start())
        self._started = True

    def prepare(self, view: View | None) -> None:
        """Lay the region out now, so that only the write is left at the deadline."""
        if self.tty and view is not None:
            self._layout(view)

    def _layout(self, view: View | None) -> list[Row]:
        if view is None:
            return []
        key = (id(view), view.version, self.cols, self.rows)
        if self._ready is None or self._ready[0] != key:
            self._ready = (key, view.region(self.cols, self.rows))
        return self._ready[1]

    def show(self, frame: Frame) -> None:
        """Write the frame: logs and region (TTY), or the logs as plain lines."""
        if not self.tty:
            if frame.logs:
                text = self.styler.text
                self.out.write("".join(text(line_row(line)) + "\n" for line in frame.logs))
                self.frames += 1
            return
        self._last = frame.view
        data = self.region.frame(frame.logs, self._layout(frame.view))
        if data:
            self.out.write(data)
            self.frames += 1

    def resize(self) -> None:
        """Take the terminal's new size and draw the region again for it."""
        if not self.tty:
            return
        try:
            self.cols, self.rows = self._size()
        except OSError:
            return
        self.region.resized(self.cols)
        self.out.write(self.region.frame([], self._layout(self._last)))

    def notice(self, message: str) -> None:
        """Clear the region, then have the caller print the message."""
        if self.tty and self._started:
            self.out.write(self.region.clear())
        self.report(message)

    def close(self, at: float) -> None:
        """Restore the terminal: region left tidy, cursor below it and visible, colours reset."""
        if not self._started:
            return
        self._started = False
        if self.tty:
            self.out.write(self.region.close())


def is_broken_pipe(exc: OSError) -> bool:
    """EPIPE (reader went away) or a reset connection."""
    return isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.ECONNRESET)
