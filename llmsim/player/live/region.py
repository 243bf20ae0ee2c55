"""The live region: logs scroll above a pinned block of rows that is redrawn in place.

Like rich's LiveRender, a LiveRegion remembers what it drew last and composes each frame as one
string. A frame with log lines goes back to the region's first row, erases down, prints the
lines (wrapped at word boundaries to the width) and draws the region again. A frame without
log lines rewrites only the region rows that changed. The caller writes the frame in one write.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmsim.player.live.ansi import Styler
from llmsim.player.live.control import Move, Op, Piece, encode
from llmsim.player.views.segments import Line, Row, row_width
from llmsim.player.views.wrap import wrap


class LiveRegion:
    """Composes frames for a terminal `width` cells wide.

    Invariant between frames: the region's rows are on screen, each narrower than the terminal,
    and the cursor is at the end of the last of them (at column 0 of an empty row when the
    region is empty: what the tty echoes, a ^C, lands there and overwrites nothing). Rows and
    log lines are never as wide as the terminal, so it never wraps them.
    """

    def __init__(self, styler: Styler, width: int = 80) -> None:
        self.styler = styler
        self._width = width
        self._texts: list[str] = []  # the region as last drawn
        self._widths: list[int] = []  # its rows' widths in cells
        self._rows_above_cursor = 0  # rows from the region's first row down to the cursor row
        self._full = True  # the next frame redraws everything (after a resize or a clear)
        # The last frame's rows with their text and width: most rows of a frame are the same
        # as the frame before (the grid changes every 10 s, a bar once a step), and styling and
        # measuring a row is most of what a frame costs at 1x.
        self._styled: dict[Row, tuple[str, int]] = {}

    @property
    def lines(self) -> list[str]:
        """The region's rows as last drawn (terminal text)."""
        return list(self._texts)

    def start(self) -> str:
        """Bytes to write before the first frame: hide the cursor (it would flicker in the bars)."""
        return encode([Move(Op.HIDE_CURSOR)])

    def log_rows(self, logs: Sequence[Line]) -> list[str]:
        """The terminal rows of log lines, wrapped to the width."""
        text = self.styler.text
        return [text(row) for line in logs for row in wrap(line, self._width - 1)]

    def frame(self, logs: Sequence[Line], region: Sequence[Row] | None) -> str:
        """Print `logs` above the region and draw `region` (None: the same rows again)."""
        if region is None:
            if not logs:
                return ""
            texts, widths = self._texts, self._widths
        else:
            texts, widths = self._style(region)
        if not logs and not self._full and len(texts) == len(self._texts):
            pieces = self._changed_rows(texts, widths)
        else:
            pieces = self._erase()
            for row in self.log_rows(logs):
                pieces += [row, Move(Op.NEWLINE)]
            for i, row in enumerate(texts):
                pieces += [Move(Op.NEWLINE), row] if i else [row]
        self._texts, self._widths = list(texts), list(widths)
        self._rows_above_cursor = max(0, len(texts) - 1)
        self._full = False
        return encode(pieces)

    def again(self) -> str:
        """The region as last drawn, drawn once more in its place (the same picture, written
        anew: a recording's last frame, for renderers that keep only output that touches the
        screen)."""
        if not self._texts:
            return ""
        pieces = self._erase()
        for i, row in enumerate(self._texts):
            pieces += [Move(Op.NEWLINE), row] if i else [row]
        return encode(pieces)

    def _style(self, region: Sequence[Row]) -> tuple[list[str], list[int]]:
        """Each row's terminal text and width, reusing those of the rows the last frame had."""
        last: dict[Row, tuple[str, int]] = self._styled
        kept: dict[Row, tuple[str, int]] = {}
        texts, widths = [], []
        for row in region:
            hit = last.get(row) or kept.get(row)
            if hit is None:
                hit = (self.styler.text(row), row_width(row))
            kept[row] = hit
            texts.append(hit[0])
            widths.append(hit[1])
        self._styled = kept
        return texts, widths

    def _erase(self) -> list[Piece]:
        return [Move(Op.CR), Move(Op.UP, self._rows_above_cursor), Move(Op.ERASE_DOWN)]

    def _changed_rows(self, texts: Sequence[str], widths: Sequence[int]) -> list[Piece]:
        """Rewrite only the rows that differ; the cursor ends at the end of the last row."""
        last = len(texts) - 1
        cursor = last
        pieces: list[Piece] = []
        for i, (old, new) in enumerate(zip(self._texts, texts, strict=True)):
            if old == new:
                continue
            if cursor != i:
                pieces.append(Move(Op.UP, cursor - i) if cursor > i else Move(Op.DOWN, i - cursor))
            pieces += [Move(Op.CR), new, Move(Op.ERASE_LINE)]
            cursor = i
        if pieces and cursor != last:
            pieces += [Move(Op.DOWN, last - cursor), Move(Op.CR), Move(Op.RIGHT, widths[last])]
        return pieces

    def clear(self) -> str:
        """Erase the region (to print something else in its place); the next frame redraws."""
        pieces = self._erase() if self._texts else []
        self._texts, self._widths = [], []
        self._rows_above_cursor = 0
        self._full = True
        return encode(pieces)

    def suspend(self, echoed: int = 0) -> str:
        """Bytes before the process stops (Ctrl-Z): the region erased, colours reset and the
        cursor shown for the shell; the next frame draws the region again.

        `echoed`: cells the terminal echoed at the cursor since the last frame (the tty prints
        "^Z"). At the end of a row one cell short of the width, that echo wrapped onto the next
        row, so the region's first row is one further up.
        """
        if self._texts and self._widths[-1] + echoed > self._width:
            self._rows_above_cursor += 1
        return self.clear() + encode([Move(Op.RESET), Move(Op.SHOW_CURSOR)])

    def resized(self, width: int) -> None:
        """The terminal changed width: account for how the old region now lies on screen.

        A terminal that reflows on resize (tmux, VTE, kitty) re-wraps each old row to the new
        width, so a narrower terminal puts the region on more rows. Counting those rows means the
        next frame erases from the true top of the old region. A terminal that does not reflow
        (xterm) keeps one row per line; there the count can only be too high, which erases a few
        log rows above the region but never leaves stale region text behind.
        """
        if width < self._width and self._texts:
            rows = sum(max(1, -(-w // width)) for w in self._widths[:-1])
            self._rows_above_cursor = rows + self._widths[-1] // width
        self._width = width
        self._full = True

    def close(self) -> str:
        """Bytes ending a session: keep the region on screen, move below it, show the cursor."""
        tail = Move(Op.NEWLINE) if self._texts else Move(Op.CR)
        self._texts, self._widths = [], []
        self._rows_above_cursor = 0
        return encode([Move(Op.RESET), tail, Move(Op.SHOW_CURSOR)])
