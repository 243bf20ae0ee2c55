"""Word-aware wrapping of log lines: rows never split a number or a word.

A line wider than the row is broken at the last space that fits; continuation rows are indented
under the start of the body (after the line's prefix: stamp, level, logger), unless the prefix
would leave the body less than half the row: then they are indented by a few cells. Only a single token
longer than a whole row is cut, after a separator if it has one (a path breaks after a '/'),
else at the row's end. The terminal never wraps a row itself: every row is narrower than it.
"""

from __future__ import annotations

from typing import Final

from rich.cells import cell_len

from llmsim.player.views.segments import Line, Row, Segment, row_width

# Characters a token longer than a row may be broken after.
SEPARATORS: Final = frozenset("/,;|=:")
# Cells a continuation row keeps for its text at least: a prefix that would leave less than
# MIN_BODY cells, or less than half the row (torchrun's 80-cell glog prefix), is wrapped as part
# of the text, with continuation rows indented by FALLBACK_INDENT: a hanging indent that deep
# would stack a short message into a narrow column of many rows.
MIN_BODY: Final = 24
FALLBACK_INDENT: Final = 4


def wrap(line: Line, width: int) -> list[Row]:
    """The rows `line` takes on a terminal row of `width` cells (at least one row)."""
    prefix, body = line.prefix, line.body
    if width <= 0:
        return [(*prefix, *body)]
    indent = row_width(prefix)
    if indent + row_width(body) <= width:
        return [(*prefix, *body)]
    if width - indent < max(MIN_BODY, width // 2):  # too little room: wrap the prefix too
        prefix, body = (), (*prefix, *body)
        indent = min(FALLBACK_INDENT, width // 4)
        first_room = width
    else:
        first_room = width - indent
    text = "".join(t for t, _ in body)
    cells = _cells(text)
    pad: Row = ((" " * indent, None),) if indent else ()
    rows: list[Row] = []
    start = 0
    for cut, resume in _breaks(text, cells, first_room, width - indent):
        piece = _slice(body, start, cut)
        rows.append((*prefix, *piece) if not rows else (*pad, *piece))
        start = resume
    last = _slice(body, start, len(text))
    rows.append((*prefix, *last) if not rows else (*pad, *last))
    return rows


def _cells(text: str) -> list[int]:
    """Cumulative cell offsets: cells[i] is the width of text[:i]."""
    out = [0] * (len(text) + 1)
    if text.isascii():
        return list(range(len(text) + 1))
    total = 0
    for i, ch in enumerate(text):
        total += cell_len(ch)
        out[i + 1] = total
    return out


def _breaks(text: str, cells: list[int], first_room: int, room: int) -> list[tuple[int, int]]:
    """(end of row, start of the next row) for every row but the last."""
    out: list[tuple[int, int]] = []
    start, limit = 0, first_room
    n = len(text)
    while cells[n] - cells[start] > limit:
        end = _last_fitting(cells, start, limit)
        cut = text.rfind(" ", start, end + 1)
        while cut > start and text[cut - 1] == " ":
            cut -= 1
        if cut > start:
            resume = cut
            while resume < n and text[resume] == " ":
                resume += 1
        else:  # one token longer than the row: after a separator, else at the edge
            cut = _after_separator(text, start, end)
            resume = cut
        if resume >= n:
            break
        out.append((cut, resume))
        start, limit = resume, room
    return out


def _last_fitting(cells: list[int], start: int, limit: int) -> int:
    """The largest index end such that text[start:end] fits in `limit` cells (at least start+1)."""
    target = cells[start] + limit
    lo, hi = start + 1, len(cells) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cells[mid] <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _after_separator(text: str, start: int, end: int) -> int:
    for i in range(end - 1, start, -1):
        if text[i] in SEPARATORS and not (text[i - 1].isdigit() and text[i + 1 : i + 2].isdigit()):
            return i + 1
    return end


def _slice(segments: tuple[Segment, ...], start: int, end: int) -> tuple[Segment, ...]:
    """The styled segments covering characters [start, end) of their joined text."""
    out: list[Segment] = []
    pos = 0
    for text, style in segments:
        nxt = pos + len(text)
        if nxt > start and pos < end:
            piece = text[max(0, start - pos) : min(len(text), end - pos)]
            if piece:
                out.append((piece, style))
        if nxt >= end:
            break
        pos = nxt
    return tuple(out)
