"""How the live region shares the terminal: its height budget and what goes first when short.

The region takes at most a third of the rows (at 80×24 that leaves 16 rows to the scrolling
logs). It holds, top to bottom: the loss chart, the GPU grid, the bars of operations in
progress and the two training bars. When rows are short the chart goes first, then the grid
gives up node rows (its header stays longest), and the bars go last: the epoch bar, then the
run bar, then the operation bars. Every row is narrower than the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from llmsim.player.views.segments import Row

SHARE: Final = 3  # the region takes at most 1/SHARE of the terminal's rows
MIN_REGION: Final = 2  # ...but room for the two training bars on any terminal of 4+ rows
LOG_ROWS_MIN: Final = 2  # rows always left to the logs
CHART_MIN_COLS: Final = 100
CHART_MIN_ROWS: Final = 40
CHART_MIN_GRID: Final = 3  # grid rows (header + 2) the chart must leave, or it is dropped


def budget(rows: int) -> int:
    """Rows the live region may take on a terminal `rows` high."""
    return max(0, min(rows - LOG_ROWS_MIN, max(MIN_REGION, rows // SHARE)))


def chart_fits(cols: int, rows: int) -> bool:
    """True on a terminal big enough for the loss chart."""
    return cols >= CHART_MIN_COLS and rows >= CHART_MIN_ROWS


def arrange(
    ops: list[Row],
    bars: list[Row],
    chart: Callable[[], list[Row]] | None,
    grid: Callable[[int], list[Row]],
    rows: int,
    chart_rows: int,
) -> list[Row]:
    """The region's rows within budget(rows): chart, grid, operation bars, training bars.

    `chart()`/`grid(rows)` are asked only when they get room; `chart` is None when the
    terminal is too small for it.
    """
    room = budget(rows)
    bars = list(bars)
    while len(ops) + len(bars) > room and bars:
        bars.pop()  # the epoch bar, then the run bar
    ops = ops[: max(0, room)]
    left = room - len(ops) - len(bars)
    top: list[Row] = []
    if chart is not None and left >= chart_rows + CHART_MIN_GRID:
        top = chart()
    return top + grid(left - len(top)) + ops + bars
