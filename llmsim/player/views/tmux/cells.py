"""A terminal's line discipline on styled text: hard wrapping at the last column, tab stops.

A line wider than its pane continues at column 0 of the next row, mid-word, as any terminal
(and tmux's pane) wraps it; a tab moves to the next multiple of 8 and never past the last
column; a double-width character that does not fit in the last column moves to the next row
and leaves that column blank. Nothing is cut and nothing is indented.
"""

from __future__ import annotations

from typing import Final

from rich.cells import cell_len, get_character_cell_size

from llmsim.player.views.segments import Row, Segment

TAB: Final = 8


def wrap(line: Row, width: int) -> list[Row]:
    """The rows `line` takes in a pane `width` cells wide (at least one, maybe empty)."""
    if width <= 0:
        return [line]
    if all(text.isascii() and "\t" not in text for text, _ in line):
        return _wrap_ascii(line, width)
    return _wrap_cells(line, width)


def _wrap_ascii(line: Row, width: int) -> list[Row]:
    rows: list[Row] = []
    row: list[Segment] = []
    col = 0
    for text, style in line:
        start = 0
        while start < len(text):
            if col == width:
                rows.append(tuple(row))
                row, col = [], 0
            piece = text[start : start + width - col]
            row.append((piece, style))
            col += len(piece)
            start += len(piece)
    rows.append(tuple(row))
    return rows


def _wrap_cells(line: Row, width: int) -> list[Row]:
    rows: list[Row] = []
    row: list[Segment] = []
    col = 0
    for text, style in line:
        buf: list[str] = []
        for ch in text:
            if ch == "\t":
                if col == width:  # the cursor waits past the last column: the tab wraps first
                    row.append(("".join(buf), style))
                    rows.append(tuple(row))
                    row, buf, col = [], [], 0
                stop = min(width - 1, (col // TAB + 1) * TAB)
                buf.append(" " * max(0, stop - col))
                col = max(col, stop)
                continue
            size = get_character_cell_size(ch)
            if col + size > width:
                if col < width:
                    buf.append(" " * (width - col))  # a wide character leaves the cell blank
                row.append(("".join(buf), style))
                rows.append(tuple(row))
                row, buf, col = [], [], 0
            buf.append(ch)
            col += size
        if buf:
            row.append(("".join(buf), style))
    rows.append(tuple(row))
    return [tuple(s for s in r if s[0]) for r in rows]


def fit(row: Row, width: int) -> Row:
    """`row` cut or padded with blanks to exactly `width` cells (no ellipsis: a screen cell)."""
    out: list[Segment] = []
    used = 0
    for text, style in row:
        cells = cell_len(text) if not text.isascii() else len(text)
        if used + cells <= width:
            out.append((text, style))
            used += cells
            continue
        piece = _cut(text, width - used)
        if piece:
            out.append((piece, style))
            used += cell_len(piece)
        break
    if used < width:
        out.append((" " * (width - used), None))
    return tuple(out)


def _cut(text: str, room: int) -> str:
    """The longest start of `text` within `room` cells (a wide character that would straddle
    the edge is left out)."""
    if text.isascii():
        return text[:room]
    out: list[str] = []
    used = 0
    for ch in text:
        size = get_character_cell_size(ch)
        if used + size > room:
            break
        out.append(ch)
        used += size
    return "".join(out)
