"""Styled text as data: a row is a tuple of (text, style name) segments; the cell arithmetic.

Views build rows that fit a width; only the live region turns them into escape sequences.
A segment is the dialects' `Segment` (llmsim.player.dialects), so their lines need no copying.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from rich.cells import cell_len, set_cell_size

from llmsim.player.dialects import Line, Segment

__all__ = ["Line", "Row", "Segment", "View", "crop", "fit", "join_fitting", "plain", "row_width"]

Row = tuple[Segment, ...]


class View(Protocol):
    """What a live region is drawn from: rows for a terminal size, and a counter that changes
    whenever they may (so a layout can be kept until it does)."""

    @property
    def version(self) -> int:
        """Changes whenever the rows may."""
        ...

    def region(self, cols: int, rows: int) -> list[Row]:
        """The region's rows for a terminal of `cols` × `rows`."""
        ...


def plain(row: Iterable[Segment]) -> str:
    """The row's text without styles."""
    return "".join(text for text, _ in row)


def row_width(row: Iterable[Segment]) -> int:
    """Terminal cells the row takes."""
    return cell_len("".join(text for text, _ in row))  # one measure: cheaper than one a segment


def fit(text: str, width: int, ellipsis: str = "…") -> str:
    """Crop plain text to `width` terminal cells, ending in an ellipsis when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width <= cell_len(ellipsis):
        return set_cell_size(text, width)
    return set_cell_size(text, width - cell_len(ellipsis)) + ellipsis


def crop(row: Row, width: int, ellipsis: str = "…") -> Row:
    """The row cut to `width` cells, its last visible segment ending in an ellipsis."""
    if row_width(row) <= width:
        return row
    out: list[Segment] = []
    room = width - cell_len(ellipsis)
    for text, style in row:
        cells = cell_len(text)
        if cells > room:
            if room > 0:
                out.append((set_cell_size(text, room), style))
            break
        out.append((text, style))
        room -= cells
    out.append((ellipsis if width >= cell_len(ellipsis) else "", None))
    return tuple(out)


def join_fitting(head: Row, parts: Sequence[Row], width: int, sep: Segment, first: str) -> Row:
    """`head` then as many whole `parts` as fit in `width` cells, `sep` between them."""
    out = list(head)
    used = row_width(head)
    for k, part in enumerate(parts):
        gap: Segment = (first, None) if k == 0 else sep
        add = cell_len(gap[0]) + row_width(part)
        if used + add > width:
            break
        out.append(gap)
        out.extend(part)
        used += add
    return tuple(out)


def pick_fitting(parts: Sequence[tuple[int, Row]], width: int, sep: Segment) -> Row:
    """The parts that fit in `width`, chosen by priority (lower first), shown in their order."""
    chosen: set[int] = set()
    used = 0
    for _, index in sorted((prio, i) for i, (prio, _) in enumerate(parts)):
        add = row_width(parts[index][1]) + (cell_len(sep[0]) if chosen else 0)
        if used + add <= width:
            chosen.add(index)
            used += add
    out: list[Segment] = []
    for i, (_, part) in enumerate(parts):
        if i in chosen:
            if out:
                out.append(sep)
            out.extend(part)
    return tuple(out)


def line_row(line: Line) -> Row:
    """A dialect line as one unwrapped row (prefix, then body)."""
    return (*line.prefix, *line.body)
