"""The three layouts' frame composers, behind one interface the sinks use.

A composer turns a frame (log lines to print, what the screen is drawn from) into the bytes of
one write for a terminal of a given size: `plain` prints the job's lines whole, one after
another; `classic` keeps a live region pinned under the scrolling lines (LiveRegion); `tmux`
draws the whole screen (FullScreen). The terminal and the cast use the same composers, so a
cast holds the bytes the terminal gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from llmsim.player.live.ansi import Styler
from llmsim.player.live.region import LiveRegion
from llmsim.player.live.screen import FullScreen
from llmsim.player.options import Layout
from llmsim.player.views.segments import Line, Row, View, line_row


class Composer(Protocol):
    """Bytes for the frames of one layout."""

    cursor_control: bool  # whether its bytes move the cursor (tmux and classic)

    def start(self) -> str:
        """Before the first frame."""
        ...

    def frame(self, logs: Sequence[Line], view: View | None, cols: int, rows: int) -> str:
        """Print `logs` and draw what `view` shows on a terminal of `cols` × `rows`."""
        ...

    def prepare(self, view: View | None, cols: int, rows: int) -> None:
        """Lay the frame out ahead of its deadline (the write is then all that is left)."""
        ...

    def resized(self, cols: int) -> None:
        """The terminal's width changed: the next frame accounts for it."""
        ...

    def clear(self) -> str:
        """Bytes that make room to print a message; the next frame draws everything again."""
        ...

    def again(self) -> str:
        """The last frame's picture written once more, unchanged ("" if nothing is drawn)."""
        ...

    def suspend(self, echoed: int) -> str:
        """Bytes before the process stops (Ctrl-Z)."""
        ...

    def close(self) -> str:
        """Bytes ending the session (the terminal left usable)."""
        ...


class Lines:
    """The plain layout: the job's lines, whole, nothing else."""

    cursor_control = False

    def __init__(self, styler: Styler, newline: str = "\n") -> None:
        self.styler = styler
        self.newline = newline  # a cast records what the terminal got: CR LF

    def start(self) -> str:
        return ""

    def frame(self, logs: Sequence[Line], view: View | None, cols: int, rows: int) -> str:
        text = self.styler.text
        return "".join(text(line_row(line)) + self.newline for line in logs)

    def prepare(self, view: View | None, cols: int, rows: int) -> None:
        return None

    def resized(self, cols: int) -> None:
        return None

    def clear(self) -> str:
        return ""

    def again(self) -> str:
        return ""  # printed lines are not drawn again: that would print them twice

    def suspend(self, echoed: int) -> str:
        return ""

    def close(self) -> str:
        return ""


class Region:
    """The classic layout: lines scroll above a live region redrawn in place."""

    cursor_control = True

    def __init__(self, styler: Styler, cols: int) -> None:
        self.region = LiveRegion(styler, cols)
        self._ready: tuple[tuple[View, int, int, int], list[Row]] | None = None

    def start(self) -> str:
        return self.region.start()

    def _rows(self, view: View | None, cols: int, rows: int) -> list[Row]:
        if view is None:
            return []
        key = (view, view.version, cols, rows)  # the view itself: an id could be reused
        if self._ready is None or self._ready[0] != key:
            self._ready = (key, view.region(cols, rows))
        return self._ready[1]

    def frame(self, logs: Sequence[Line], view: View | None, cols: int, rows: int) -> str:
        return self.region.frame(logs, self._rows(view, cols, rows))

    def prepare(self, view: View | None, cols: int, rows: int) -> None:
        self._rows(view, cols, rows)

    def resized(self, cols: int) -> None:
        self.region.resized(cols)

    def clear(self) -> str:
        return self.region.clear()

    def again(self) -> str:
        return self.region.again()

    def suspend(self, echoed: int) -> str:
        return self.region.suspend(echoed)

    def close(self) -> str:
        return self.region.close()


class Screen:
    """The tmux layout: the whole screen, drawn by position."""

    cursor_control = True

    def __init__(self, styler: Styler) -> None:
        self.screen = FullScreen(styler)
        self._last: View | None = None
        self._ready: tuple[tuple[View, int, int, int], list[Row], tuple[int, int] | None] | None
        self._ready = None

    def start(self) -> str:
        return self.screen.start()

    def _layout(self, view: View, cols: int, rows: int) -> tuple[list[Row], tuple[int, int] | None]:
        key = (view, view.version, cols, rows)  # the view itself: an id could be reused
        if self._ready is None or self._ready[0] != key:
            where = getattr(view, "cursor", None)
            cursor = where(cols, rows) if where is not None else None
            self._ready = (key, view.region(cols, rows), cursor)
        return self._ready[1], self._ready[2]

    def frame(self, logs: Sequence[Line], view: View | None, cols: int, rows: int) -> str:
        view = view if view is not None else self._last  # between runs the session stays
        if view is None:
            return ""
        self._last = view
        screen, cursor = self._layout(view, cols, rows)
        return self.screen.frame(screen, cursor)

    def prepare(self, view: View | None, cols: int, rows: int) -> None:
        if view is not None:
            self._layout(view, cols, rows)

    def resized(self, cols: int) -> None:
        self.screen.redraw()

    def clear(self) -> str:
        return self.screen.clear()

    def again(self) -> str:
        return self.screen.again()

    def suspend(self, echoed: int) -> str:
        return self.screen.suspend()

    def close(self) -> str:
        return self.screen.close()


def composer(layout: Layout, styler: Styler, cols: int, newline: str = "\n") -> Composer:
    """The composer of `layout` for a terminal `cols` wide."""
    if layout == "tmux":
        return Screen(styler)
    if layout == "classic":
        return Region(styler, cols)
    return Lines(styler, newline)
