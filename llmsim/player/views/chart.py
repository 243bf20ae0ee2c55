"""The loss chart: training loss so far on a log-scaled step axis, validation points marked,
and the tokens/s of recent steps as a sparkline beside it.

Drawn from the step and eval rows seen, nothing else: points are kept as they came (every
k-th once there are many, so memory stays bounded), the axis spans the losses seen
(at least MIN_SPAN of the highest, so noise on a flat stretch stays noise), its labels are its
bounds, and the first and last steps, and the sparkline's label is the latest
tokens/s. Braille dots (2×4 per cell) where the terminal has UTF-8, asterisks otherwise.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

from llmsim.player.views import fmt
from llmsim.player.views.palette import Glyphs
from llmsim.player.views.segments import Row, Segment
from llmsim.units import sparkline

MAX_POINTS: Final = 256  # loss points kept; past that every other one is dropped
SPARK_POINTS: Final = 24  # tokens/s of the most recent steps in the sparkline
PLOT_ROWS: Final = 5
ROWS: Final = PLOT_ROWS + 1  # the plot and its step axis
PANEL: Final = SPARK_POINTS + 3  # cells right of the plot: " │ " + sparkline
MIN_PLOT: Final = 30  # cells of plot the chart needs to be worth drawing
# The loss axis spans at least this share of the highest loss: a flat stretch (a pretraining
# window, where the loss moves by a percent) stays flat instead of its noise filling the plot.
MIN_SPAN: Final = 0.15
# Braille dot bits by (column, row) within a cell: U+2800 + the sum of a cell's dots.
_DOTS: Final = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


class History:
    """The losses (and validation losses) and throughputs seen so far, bounded."""

    def __init__(self) -> None:
        self.points: list[tuple[int, float]] = []  # (step, loss)
        self.vals: list[tuple[int, float]] = []  # (step, validation loss)
        self.tps: deque[float] = deque(maxlen=SPARK_POINTS)
        self._stride = 1
        self._seen = 0

    def step(self, step: int, loss: float, tokens_per_s: float | None) -> None:
        """Record an optimizer step (every `stride`-th one once many are kept)."""
        if tokens_per_s is not None:
            self.tps.append(tokens_per_s)
        self._seen += 1
        if (self._seen - 1) % self._stride:
            return
        self.points.append((step, loss))
        if len(self.points) > MAX_POINTS:
            self.points = self.points[::2]
            self._stride *= 2

    def val(self, step: int, val_loss: float) -> None:
        """Record a validation result."""
        self.vals.append((step, val_loss))
        if len(self.vals) > MAX_POINTS:
            self.vals = self.vals[::2]


class LossChart:
    """Draws a History on a log-scaled axis from the run's first step to its last scheduled one,
    so the curve grows to the right as the run goes. The plot is kept until it would change
    (a new dot column, a new lowest or highest loss, a validation point); the throughput
    panel beside it is drawn every time."""

    def __init__(self, first: int, last: int, name: str = "loss") -> None:
        self.first, self.last = first, max(first + 1, last)
        self.name = name  # what the curve is: the loss, or an RL run's reward
        self._key: tuple[object, ...] = ()
        self._plot: list[list[Segment]] = []

    def rows(self, history: History, width: int, g: Glyphs) -> list[Row]:
        """ROWS rows of at most `width` cells, or none when there is nothing or no room."""
        if len(history.points) < 2:
            return []
        losses = [v for _, v in history.points] + [v for _, v in history.vals]
        lo, hi = loss_axis(min(losses), max(losses))
        labels = (f"{hi:.4f}", self.name, f"{lo:.4f}")
        label_w = max(len(x) for x in labels) + 1
        plot_w = width - label_w - PANEL
        if plot_w < MIN_PLOT:
            return []
        scale = _Scale(self.first, self.last, lo, hi, plot_w, g)
        key = (width, g, labels, scale.at(*history.points[-1])[0], len(history.vals))
        if key != self._key:
            self._plot, self._key = _plot(history, scale, g), key
        panel = _panel(history, g)
        rows: list[Row] = []
        for r in range(PLOT_ROWS):
            label = labels[0] if r == 0 else labels[2] if r == PLOT_ROWS - 1 else ""
            label = labels[1] if r == PLOT_ROWS // 2 else label
            rows.append(((label.rjust(label_w - 1) + " ", "key"), *self._plot[r], *panel[r]))
        left, middle, right = f"step {self.first:,}", "log scale", f"{self.last:,}"
        gap = max(1, plot_w - len(left) - len(middle) - len(right))
        axis = left + " " * (gap // 2) + middle + " " * (gap - gap // 2) + right
        rows.append(((" " * label_w + axis[:plot_w], "key"),))
        return rows


def loss_axis(lo: float, hi: float) -> tuple[float, float]:
    """The loss axis for losses from `lo` to `hi`: their range, widened about its middle to at
    least MIN_SPAN of `hi` (never below zero). The labels show these bounds."""
    span = max(hi - lo, MIN_SPAN * hi)
    if span <= hi - lo:
        return lo, hi
    mid = (lo + hi) / 2
    low = max(0.0, mid - span / 2)
    return low, low + span


class _Scale:
    """Where a (step, loss) lands in the plot's dots."""

    def __init__(self, first: int, last: int, lo: float, hi: float, cols: int, g: Glyphs) -> None:
        self.cols = cols
        self.xdots, self.ydots = (2, 4) if g.braille else (1, 1)
        self.first, self.lo, self.hi = first, lo, hi
        self.span_x = math.log1p(last - first)
        self.span_y = (hi - lo) or 1.0

    def at(self, step: int, value: float) -> tuple[int, int]:
        x = math.log1p(max(0, step - self.first)) / self.span_x
        y = (self.hi - value) / self.span_y
        width, height = self.cols * self.xdots - 1, PLOT_ROWS * self.ydots - 1
        return min(width, int(x * width + 0.5)), min(height, max(0, int(y * height + 0.5)))


def _plot(history: History, scale: _Scale, g: Glyphs) -> list[list[Segment]]:
    cols = scale.cols
    dots = [[0] * cols for _ in range(PLOT_ROWS)]
    prev: tuple[int, int] | None = None
    for step, value in history.points:
        x, y = scale.at(step, value)
        for xx, yy in _segment(prev or (x, y), (x, y)):
            _set(dots, xx, yy, g.braille)
        prev = (x, y)
    marks = set()
    for step, value in history.vals:
        x, y = scale.at(step, value)
        marks.add((y // scale.ydots, x // scale.xdots))
    rows: list[list[Segment]] = []
    for r in range(PLOT_ROWS):
        row: list[Segment] = []
        for c in range(cols):
            if (r, c) in marks:
                _add(row, g.val_mark, "chart_val")
            elif g.braille:
                _add(row, chr(0x2800 + dots[r][c]) if dots[r][c] else " ", "chart")
            else:
                _add(row, "*" if dots[r][c] else " ", "chart")
        rows.append(row)
    return rows


def _segment(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """The dots of a straight line from a to b (consecutive points are joined)."""
    (x0, y0), (x1, y1) = a, b
    n = max(abs(x1 - x0), abs(y1 - y0))
    if n == 0:
        return [b]
    return [(x0 + (x1 - x0) * i // n, y0 + (y1 - y0) * i // n) for i in range(n + 1)]


def _set(dots: list[list[int]], x: int, y: int, braille: bool) -> None:
    if braille:
        dots[y // 4][x // 2] |= _DOTS[x % 2][y % 4]
    else:
        dots[y][x] = 1


def _add(row: list[Segment], text: str, style: str) -> None:
    if row and row[-1][1] == style:
        row[-1] = (row[-1][0] + text, style)
    else:
        row.append((text, style))


def _panel(history: History, g: Glyphs) -> list[list[Segment]]:
    """Right of the plot: the latest tokens/s, then the recent ones as a sparkline."""
    bar = g.box[1]
    out: list[list[Segment]] = [[(f" {bar} ", "sep")] for _ in range(PLOT_ROWS)]
    if not history.tps:
        return out
    values = list(history.tps)
    spark = sparkline(values, g.spark, flat=(len(g.spark) - 1) // 2)
    out[0].append((f"{fmt.si(values[-1])} tok/s", "value"))
    out[1].append((spark, "spark"))
    return out
