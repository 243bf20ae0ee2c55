"""tmux 3.4's chrome with its default configuration: the panes' geometry, borders, status line.

Defaults (options-table.c at tag 3.4): status on, at the bottom, `status-style bg=green,fg=black`;
`status-left "[#{session_name}] "` (status-left-length 10); windows as
`#I:#W#{?window_flags,#{window_flags}, }` separated by a space (`*` the current window, `-`
the last one); `status-right "#{=21:pane_title}" %H:%M %d-%b-%y` flush right (a pane's title is
its host name, window.c); `pane-border-lines single`; `pane-active-border-style fg=green` and
`pane-border-indicators colour`: with two panes, half of the border between them is the active
pane's and green (screen-redraw.c, screen_redraw_pane_border).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Literal

from llmsim.player.views.segments import Row

STATUS_STYLE: Final = "tmux_status"
ACTIVE_BORDER: Final = "tmux_active"
LEFT_LENGTH: Final = 10  # status-left-length
TITLE_LENGTH: Final = 21  # #{=21:pane_title}
MONITOR_COLS: Final = 91  # nvidia-smi's table
JOB_MIN_COLS: Final = 80  # side by side only when the job keeps a standard terminal's width


@dataclass(frozen=True, slots=True)
class Rect:
    """A pane: its first column and row, its width and height."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where the panes of window 0 are, and whether a status line takes the last row."""

    cols: int
    rows: int
    split: Literal["beside", "below"]  # the monitor beside the job pane, or below it
    job: Rect
    monitor: Rect
    window: Rect  # the whole window (a one-pane window uses it all)
    status: bool


def geometry(cols: int, rows: int, status: bool, monitor_rows: int) -> Geometry:
    """The layout of a `cols` × `rows` terminal; `monitor_rows`: rows the monitor wants below."""
    height = max(1, rows - 1) if status else rows
    window = Rect(0, 0, cols, height)
    if cols >= JOB_MIN_COLS + 1 + MONITOR_COLS:
        mon_w = MONITOR_COLS
        job_w = cols - 1 - mon_w
        return Geometry(
            cols,
            rows,
            "beside",
            Rect(0, 0, job_w, height),
            Rect(job_w + 1, 0, mon_w, height),
            window,
            status,
        )
    mon_h = max(1, min(monitor_rows, (height - 1) // 2)) if height >= 3 else 0
    job_h = max(1, height - mon_h - (1 if mon_h else 0))
    return Geometry(
        cols,
        rows,
        "below",
        Rect(0, 0, cols, job_h),
        Rect(0, job_h + 1, cols, mon_h),
        window,
        status,
    )


def border(g: Geometry, row: int, ascii_only: bool) -> Row:
    """The border cell of screen row `row` (beside) or the border row (below)."""
    if g.split == "beside":
        glyph = "|" if ascii_only else "│"
        # The left pane owns rows 0 .. sy/2 of the shared border (two panes, colour indicators).
        return ((glyph, ACTIVE_BORDER if row <= g.job.h // 2 else None),)
    glyph = "-" if ascii_only else "─"
    half = g.job.w // 2 + 1  # columns 0 .. sx/2 belong to the upper pane
    return ((glyph * half, ACTIVE_BORDER), (glyph * (g.cols - half), None))


@dataclass(frozen=True, slots=True)
class Status:
    """What the status line shows."""

    session: str
    windows: tuple[str, ...]  # window names by index
    current: int
    last: int | None
    title: str  # the active pane's title (its host)
    when: float  # unix time shown
    utc: bool


def status_line(s: Status, cols: int) -> Row:
    """The status line, exactly `cols` cells, in status-style."""
    left = f"[{s.session}] "[:LEFT_LENGTH]
    names = []
    for i, name in enumerate(s.windows):
        flags = "*" if i == s.current else "-" if i == s.last else ""
        names.append(f"{i}:{name}{flags or ' '}")
    tm = time.gmtime(int(s.when)) if s.utc else time.localtime(int(s.when))
    right = f'"{s.title[:TITLE_LENGTH]}" ' + time.strftime("%H:%M %d-%b-%y", tm)
    head = left + " ".join(names)
    room = max(0, cols - len(head) - 1)  # the left side and the windows come first
    if len(right) > room:
        right = right[len(right) - room :] if room else ""
    text = head[:cols].ljust(cols - len(right)) + right
    return ((text, STATUS_STYLE),)
