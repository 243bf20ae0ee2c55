"""The live region: logs scroll above a pinned block of lines that is redrawn in place.

Like rich's LiveRender, a LiveRegion remembers what it drew last and composes each frame as one
string: go back to the region's first row, erase down, print the new log lines, draw the region
again. The caller writes the frame in one write. Every cursor move is in CONTROL below.
"""

from __future__ import annotations

import re
from typing import Final

from rich.cells import cell_len

# Every escape sequence the player emits for cursor control, in one place.
CONTROL: Final[dict[str, str]] = {
    "carriage_return": "\r",
    "newline": "\r\n",  # explicit CR: correct in raw mode and in casts, not only with ONLCR
    "erase_down": "\x1b[J",
    "hide_cursor": "\x1b[?25l",
    "show_cursor": "\x1b[?25h",
    "reset": "\x1b[0m",
}


def cursor_up(rows: int) -> str:
    """CSI n A: move the cursor up `rows` rows (nothing for 0); the terminal clamps at the top."""
    return f"\x1b[{rows}A" if rows > 0 else ""


# Escape sequences in region lines: the views only emit SGR; CSI and OSC are matched too.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def _plain_width(line: str) -> int:
    """Cells a styled line takes on screen (its escape sequences take none)."""
    return cell_len(_ESCAPE.sub("", line)) if "\x1b" in line else cell_len(line)


class LiveRegion:
    """Composes frames that print logs above a region and redraw the region in place.

    Invariant between frames: the region's lines are on screen, each shorter than the terminal
    width, and the cursor sits at the end of the last one (or at column 0 of an empty line when
    the region is empty).
    """

    def __init__(self, width: int = 80) -> None:
        self._lines: list[str] = []
        self._width = width
        self._rows_above_cursor = 0  # rows from the region's first row down to the cursor row

    @property
    def lines(self) -> list[str]:
        """The region as last drawn."""
        return list(self._lines)

    def start(self) -> str:
        """Bytes to write before the first frame: hide the cursor (it would flicker in the bars)."""
        return CONTROL["hide_cursor"]

    def frame(self, logs: list[str], region: list[str] | None) -> str:
        """One frame: erase the old region, print `logs`, draw `region` (None: the same again)."""
        if region is None:
            if not logs:
                return ""
            region = self._lines
        out = [
            CONTROL["carriage_return"],
            cursor_up(self._rows_above_cursor),
            CONTROL["erase_down"],
        ]
        for line in logs:
            out.append(line)
            out.append(CONTROL["newline"])
        out.append(CONTROL["newline"].join(region))
        self._lines = list(region)
        self._rows_above_cursor = max(0, len(region) - 1)
        return "".join(out)

    def resized(self, width: int, height: int) -> None:
        """The terminal changed size: account for how the old region now lies on screen.

        A terminal that reflows on resize (tmux, VTE, kitty) re-wraps each old line to the new
        width, so a narrower terminal puts the region on more rows. Counting those rows means the
        next frame erases from the true top of the old region. A terminal that does not reflow
        (xterm) keeps one row per line; there the count can only be too high, which erases a few
        log rows above the region but never leaves stale region text behind.
        """
        if width < self._width and self._lines:
            rows = 0
            for line in self._lines[:-1]:
                rows += max(1, -(-_plain_width(line) // width))
            rows += _plain_width(self._lines[-1]) // width  # the cursor row within the last line
            self._rows_above_cursor = rows
        self._width = width

    def close(self) -> str:
        """Bytes ending a session: keep the region on screen, move below it, show the cursor."""
        tail = CONTROL["newline"] if self._lines else CONTROL["carriage_return"]
        self._lines = []
        self._rows_above_cursor = 0
        return CONTROL["reset"] + tail + CONTROL["show_cursor"]
