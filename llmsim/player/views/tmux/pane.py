"""The job's pane: what a terminal shows of a program's output, a shell and tqdm's bars.

Lines are kept as the program printed them and laid out for the pane's width when drawn, so a
resize reflows them as tmux does. tqdm's bars (HF's training, evaluation and loading bars) are
the live lines at the bottom: `tqdm.write` prints above them and redraws them, while a line a
logger prints directly lands after the bar at the cursor (the bar's text stays above it, as in
any real HF log), and the bar is drawn again at its next update. A shell prompt and the keys
typed at it make the open line, the cursor after them.
"""

from __future__ import annotations

from collections import deque
from typing import Final, NamedTuple

from rich.cells import cell_len

from llmsim.player.views.segments import Row
from llmsim.player.views.tmux.cells import wrap
from llmsim.player.views.tmux.tqdm import Meter, meter

MAX_LINES: Final = 600  # lines kept: more than the tallest pane (500 rows) can show


class Frozen(NamedTuple):
    """A bar's text left on screen, then what was printed after it on the same line."""

    bar: Meter
    tail: Row


Entry = Row | Frozen


class Cursor(NamedTuple):
    """Where the pane's cursor is: row within the pane, column."""

    row: int
    col: int


class JobPane:
    """A pane's scrollback (bounded), its open line and tqdm's live bars."""

    def __init__(self, ascii_only: bool = False) -> None:
        self.ascii = ascii_only
        self.version = 0
        self._lines: deque[Entry] = deque(maxlen=MAX_LINES)
        self._open: Row = ()
        self._bars: list[Meter] = []
        self._drawn = False  # the bars are on screen (not since a direct print)
        self._cache: dict[int, tuple[int, Entry, list[Row]]] = {}

    # --- what programs do

    def print(self, line: Row) -> None:
        """A line written at the cursor, then a newline (a logger, print(), the shell)."""
        if self._bars and self._drawn:
            self._lines.append(Frozen(self._bars[0], line))
            self._drawn = False
        else:
            self._lines.append((*self._open, *line) if self._open else line)
            self._open = ()
        self.version += 1

    def write(self, line: Row) -> None:
        """`tqdm.write`: the bars are cleared, the line printed, the bars drawn again."""
        self._lines.append(line)
        self._drawn = bool(self._bars)
        self.version += 1

    def type(self, text: Row) -> None:
        """Text without a newline at the cursor: a prompt, echoed keys."""
        self._open = (*self._open, *text)
        self.version += 1

    def enter(self) -> None:
        """The open line ends (Enter, or the shell's newline)."""
        self._lines.append(self._open)
        self._open = ()
        self.version += 1

    @property
    def at_prompt(self) -> bool:
        """Whether the open line holds something (a prompt waiting)."""
        return bool(self._open)

    def bar(self, position: int, value: Meter) -> None:
        """tqdm refreshes the bar at `position` (0: the cursor's line; 1: the one below)."""
        while len(self._bars) <= position:
            self._bars.append(value)
        self._bars[position] = value
        self._drawn = True
        self.version += 1

    def close_bar(self, position: int, leave: bool) -> None:
        """tqdm.close(): the bar's last state stays (leave=True) or its line is cleared."""
        if position >= len(self._bars):
            return
        value = self._bars.pop(position)
        if leave and position == 0:
            self._lines.append(Frozen(value, ()))
        self._drawn = bool(self._bars) and self._drawn
        self.version += 1

    @property
    def bars(self) -> int:
        """How many bars are live."""
        return len(self._bars)

    # --- what the terminal shows

    def rows(self, width: int, height: int) -> tuple[list[Row], Cursor]:
        """The pane's last `height` rows at `width` and its cursor.

        The cursor sits after the open line (a prompt) or, while tqdm's bars are drawn, at the
        end of the first bar; a line exactly as wide as the pane leaves it on the last column.
        """
        if self._bars and self._drawn:
            first = wrap(self._bar_row(self._bars[0], width), width)
            tail = first + [r for b in self._bars[1:] for r in wrap(self._bar_row(b, width), width)]
            below = len(tail) - len(first)  # rows under the cursor's row
        else:
            first = tail = wrap(self._open, width)
            below = 0
        col = _width(first[-1]) if first else 0
        rows: list[Row] = []
        need = height - len(tail)
        for entry in reversed(self._lines):
            if need <= 0:
                break
            laid = self._laid(entry, width)
            rows[:0] = laid[-need:]
            need -= len(laid)
        out = (rows + tail)[-height:] if height > 0 else []
        return out, Cursor(max(0, len(out) - 1 - below), max(0, min(col, width - 1)))

    def _bar_row(self, value: Meter, width: int) -> Row:
        return ((meter(value, width, self.ascii), None),)

    def _laid(self, entry: Entry, width: int) -> list[Row]:
        key = id(entry)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == width and hit[1] is entry:
            return hit[2]
        if isinstance(entry, Frozen):
            laid = wrap((*self._bar_row(entry.bar, width), *entry.tail), width)
        else:
            laid = wrap(entry, width)
        if len(self._cache) > 4 * MAX_LINES:
            self._cache.clear()
        self._cache[key] = (width, entry, laid)
        return laid


def _width(row: Row) -> int:
    return sum(cell_len(t) for t, _ in row)
