"""A full-screen layout's frames: rows addressed by position, only the changed ones rewritten.

The tmux layout draws the whole terminal, as tmux itself does: each frame compares the screen's
rows with the ones last drawn and rewrites those that differ, each from its first column (every
row is exactly as wide as the terminal, so nothing needs erasing and nothing scrolls); then the
cursor goes where the active pane has it. The cursor is hidden while a frame is drawn. It draws
on the normal screen, not the alternate one: when playback ends the last screen stays (and is a
recording's last frame), the shell's prompt coming back on a new row below it. Cursor moves are
data (`control`); one string per frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmsim.player.live.ansi import Styler
from llmsim.player.live.control import Move, Op, Piece, encode
from llmsim.player.views.segments import Row


class FullScreen:
    """Composes frames of a screen `rows` high."""

    def __init__(self, styler: Styler) -> None:
        self.styler = styler
        self._texts: list[str] = []
        self._cursor: tuple[int, int] | None = None  # where the last frame left it (None: hidden)
        self._full = True

    @property
    def lines(self) -> list[str]:
        """The screen's rows as last drawn (terminal text)."""
        return list(self._texts)

    def start(self) -> str:
        """Bytes before the first frame: the cursor hidden and the screen blanked, as tmux
        does when it attaches. They go out before the first trace is opened, so the terminal
        answers at once; the first frame draws every row all the same."""
        self._full = True
        return encode([Move(Op.HIDE_CURSOR), Move(Op.GOTO, 0, 0), Move(Op.ERASE_SCREEN)])

    def frame(self, rows: Sequence[Row], cursor: tuple[int, int] | None) -> str:
        """Draw `rows` (the whole screen) and put the cursor at `cursor` (None: hidden)."""
        texts = [self.styler.text(row) for row in rows]
        pieces: list[Piece] = [Move(Op.HIDE_CURSOR)]
        full = self._full or len(texts) != len(self._texts)
        if full:
            pieces += [Move(Op.GOTO, 0, 0), Move(Op.ERASE_SCREEN)]
        changed = False
        for i, text in enumerate(texts):
            if full or text != self._texts[i]:
                pieces += [Move(Op.GOTO, i, 0), text]
                changed = True
        if not changed and not full:
            return ""
        if cursor is not None:
            pieces += [Move(Op.GOTO, cursor[0], cursor[1]), Move(Op.SHOW_CURSOR)]
        self._texts = texts
        self._cursor = cursor
        self._full = False
        return encode(pieces)

    def again(self) -> str:
        """The last frame's screen drawn once more, every row, the cursor where it was: the
        same picture, written anew (a recording's last frame, for renderers that keep only
        output that touches the screen)."""
        if not self._texts:
            return ""
        pieces: list[Piece] = [Move(Op.HIDE_CURSOR), Move(Op.GOTO, 0, 0), Move(Op.ERASE_SCREEN)]
        for i, text in enumerate(self._texts):
            pieces += [Move(Op.GOTO, i, 0), text]
        if self._cursor is not None:
            pieces += [Move(Op.GOTO, *self._cursor), Move(Op.SHOW_CURSOR)]
        return encode(pieces)

    def redraw(self) -> None:
        """The next frame draws everything (after a resize, a notice, a continue)."""
        self._full = True

    def clear(self) -> str:
        """Make room for a message: the cursor on a new row below the screen; the next frame
        redraws everything."""
        self._full = True
        data = self._leave()
        self._texts = []
        return data

    def suspend(self) -> str:
        """Bytes before the process stops (Ctrl-Z): the screen left as it is, the cursor on a
        new row below it and shown; the next frame draws everything again."""
        self._full = True
        return self._leave()

    def close(self) -> str:
        """Bytes ending a session: the last screen kept, colours reset, the cursor on a new
        row below it (the top row scrolls away) and shown."""
        data = self._leave()
        self._texts = []
        return data

    def _leave(self) -> str:
        pieces: list[Piece] = [Move(Op.RESET)]
        if self._texts:
            pieces += [Move(Op.GOTO, len(self._texts) - 1, 0), Move(Op.NEWLINE)]
        return encode([*pieces, Move(Op.SHOW_CURSOR)])
