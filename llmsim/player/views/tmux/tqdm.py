"""tqdm 4.67.1's meter, as `tqdm.format_meter` lays it out for a terminal `ncols` wide.

`{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]`
(tqdm/std.py: format_meter, format_sizeof, format_interval, Bar.__format__). The bar fills the
width the text leaves (dynamic_ncols), in eighths of a block. Every figure comes from the trace
row; the rate and remaining time are tqdm's own arithmetic on them (n / elapsed, and
(total - n) / rate) unless the row holds them (the Trainer's bar: the run's ETA).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.cells import cell_len

UTF_BAR: Final = " " + "".join(chr(c) for c in range(0x258F, 0x2587, -1))  # " ▏▎▍▌▋▊▉█"
ASCII_BAR: Final = " 123456789#"
DEFAULT_BAR: Final = 10  # cells of the bar when the width is not known


@dataclass(frozen=True, slots=True)
class Meter:
    """What one tqdm bar shows: counts, times and how they are labelled."""

    n: float
    total: float
    elapsed: float
    desc: str = ""
    unit: str = "it"
    unit_scale: bool = False  # sizes with SI prefixes (bytes: 4.98G/4.98G, 121MB/s)
    remaining: float | None = None  # seconds left when the trace holds them
    seconds_per_unit: float | None = None  # the rate when the trace holds it (s/it)
    xet: bool = False  # hf-xet's bar_format (huggingface_hub's XetProgressReporter)
    speed: bool = False  # with the reporter's speed as postfix (its two summary bars)


def format_sizeof(num: float, suffix: str = "", divisor: float = 1000) -> str:
    """tqdm's SI size: three significant figures and a prefix (`4.98G`, `121M`, `9.09`)."""
    for unit in ("", "k", "M", "G", "T", "P", "E", "Z"):
        if abs(num) < 999.5:
            if abs(num) < 99.95:
                if abs(num) < 9.995:
                    return f"{num:1.2f}{unit}{suffix}"
                return f"{num:2.1f}{unit}{suffix}"
            return f"{num:3.0f}{unit}{suffix}"
        num /= divisor
    return f"{num:3.1f}Y{suffix}"


def format_interval(seconds: float) -> str:
    """tqdm's clock: `MM:SS`, or `H:MM:SS` from an hour on."""
    mins, s = divmod(int(seconds), 60)
    h, m = divmod(mins, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _count(value: float, scale: bool) -> str:
    if scale:
        return format_sizeof(value)
    return str(int(value)) if float(value).is_integer() else str(value)


def xet_meter(m: Meter, ncols: int | None, ascii_only: bool = False) -> str:
    """huggingface_hub 0.36.0's XetProgressReporter bar (utils/_xet_progress_reporting.py):
    `{l_bar}{bar}| {n_fmt:>5}B / {total_fmt:>5}B{postfix:>12}`, sizes in powers of 1000, the
    summary bars' postfix `, ` + their speed `f"{format_sizeof(speed)}B/s  ".rjust(10)`."""
    total = max(m.total, 1.0)
    frac = min(1.0, max(0.0, m.n / total))
    postfix = ""
    if m.speed:
        rate = m.n / m.elapsed if m.elapsed else None
        size = format_sizeof(rate) if rate is not None else "???"
        postfix = ", " + f"{size}B/s  ".rjust(10)
    l_bar = f"{m.desc}: {frac * 100:3.0f}%|"
    r_bar = f"| {format_sizeof(m.n):>5}B / {format_sizeof(m.total):>5}B{postfix:>12}"
    cells = max(1, ncols - cell_len(l_bar + r_bar)) if ncols else DEFAULT_BAR
    text = l_bar + _bar(frac, cells, ASCII_BAR if ascii_only else UTF_BAR) + r_bar
    return _trim(text, ncols) if ncols else text


def meter(m: Meter, ncols: int | None, ascii_only: bool = False) -> str:
    """The meter's text, at most `ncols` cells (None: a 10-cell bar, as tqdm without a width)."""
    if m.xet:
        return xet_meter(m, ncols, ascii_only)
    if m.seconds_per_unit:
        rate: float | None = 1.0 / m.seconds_per_unit
    else:
        rate = m.n / m.elapsed if m.elapsed else None
    inv = 1.0 / rate if rate else None
    scale = m.unit_scale
    noinv = ((format_sizeof(rate) if scale else f"{rate:5.2f}") if rate else "?") + m.unit + "/s"
    inv_fmt = ((format_sizeof(inv) if scale else f"{inv:5.2f}") if inv else "?") + "s/" + m.unit
    rate_fmt = inv_fmt if inv and inv > 1 else noinv
    total = m.total if m.total and m.n < m.total + 0.5 else None
    if m.remaining is not None:
        remaining = m.remaining
    else:
        remaining = (total - m.n) / rate if rate and total else 0.0
    left = format_interval(remaining) if rate or m.remaining is not None else "?"
    l_bar = f"{m.desc}: " if m.desc else ""
    totals = _count(total, scale) if total is not None else "?"
    r_bar = f"| {_count(m.n, scale)}/{totals} [{format_interval(m.elapsed)}<{left}, {rate_fmt}]"
    if total is None:
        return f"{l_bar}{_count(m.n, scale)}{m.unit} [{format_interval(m.elapsed)}, {rate_fmt}]"
    frac = min(1.0, max(0.0, m.n / total))
    l_bar += f"{frac * 100:3.0f}%|"
    cells = max(1, ncols - cell_len(l_bar + r_bar)) if ncols else DEFAULT_BAR
    text = l_bar + _bar(frac, cells, ASCII_BAR if ascii_only else UTF_BAR) + r_bar
    return _trim(text, ncols) if ncols else text


def _bar(frac: float, cells: int, charset: str) -> str:
    steps = len(charset) - 1
    full, part = divmod(int(frac * cells * steps), steps)
    out = charset[-1] * full
    if full < cells:
        out += charset[part] + charset[0] * (cells - full - 1)
    return out


def _trim(text: str, ncols: int) -> str:
    if cell_len(text) <= ncols:
        return text
    out = []
    used = 0
    for ch in text:
        used += cell_len(ch)
        if used > ncols:
            break
        out.append(ch)
    return "".join(out)
