"""Number formatting for the views: durations, sizes, rates, perplexity digits.

These only format values that come from the trace (units, rounding, digit grouping); they never
derive a new figure, except the tqdm-style remaining time and percentages the brief allows.
"""

from __future__ import annotations

import math
from typing import Final

from llmsim.units import format_clock

_SI: Final = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))


clock = format_clock  # tqdm's elapsed/remaining format


def duration(seconds: float) -> str:
    """A total run time for the summary: 1h 02m 13s, 12m 05s or 42.3s."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = round(seconds)
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def tqdm_rate(done: int, elapsed: float, unit: str | None) -> str:
    """tqdm's rate as its meter shows it: `10.52it/s`, ` 2.71s/it` below one per second,
    `1.95GB/s` for bytes (unit_scale), `?it/s` before the first unit."""
    if unit == "B":
        return f"{size(done / elapsed).replace(' ', '')}/s" if done and elapsed > 0 else "?B/s"
    if not done or elapsed <= 0:
        return "?it/s"
    rate = done / elapsed
    return f"{rate:5.2f}it/s" if rate >= 1 else f"{1 / rate:5.2f}s/it"


def gigabytes(size_bytes: int) -> str:
    """Decimal gigabytes as Hugging Face prints shard sizes: 4.98 GB."""
    return f"{size_bytes / 1e9:.2f} GB"


def size(size_bytes: float) -> str:
    """A human size in decimal units: 512 B, 2.4 kB, 1.72 MB, 16.06 GB."""
    if size_bytes < 1000:
        return f"{int(size_bytes)} B"
    for suffix, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.2f} {suffix}"
    return f"{int(size_bytes)} B"  # pragma: no cover


def si(value: float) -> str:
    """Three significant digits with an SI suffix: 1.23M, 845k, 12.0G."""
    for suffix, scale in _SI:
        if value >= scale:
            v = value / scale
            return f"{v:.3g}{suffix}" if v < 1000 else f"{v:.0f}{suffix}"
    return f"{value:.3g}"


def ppl(loss: float, perplexity: float) -> str:
    """Perplexity with only the digits that agree with exp() of the loss as shown (4 decimals).

    A loss printed to 4 decimals pins exp(loss) to about 5 parts in 10^5, so perplexity gets four
    significant digits (10.44, 123.4, 1,234, 36.32k). If rounding puts the trace's perplexity and
    exp(shown loss) on different sides of the last digit, one digit fewer is shown: a viewer who
    checks exp(loss) on a calculator always finds the digits on screen.
    """
    shown = math.exp(round(loss, 4))  # only to choose the digits, never printed
    for digits in (4, 3, 2):
        a, b = _sig(perplexity, digits), _sig(shown, digits)
        if a == b:
            return a
    return _sig(perplexity, 2)


def _sig(value: float, digits: int) -> str:
    if value >= 10_000:
        scaled = value / 1000
        decimals = max(0, digits - 1 - math.floor(math.log10(scaled)))
        return f"{scaled:,.{decimals}f}k"
    magnitude = math.floor(math.log10(value)) if value > 0 else 0
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def percent(done: int, total: int) -> int:
    """Whole percent done, as tqdm shows it (floor, so 100% only when finished)."""
    if total <= 0:
        return 100
    return min(100, max(0, (done * 100) // total))


def remaining(elapsed: float, done: int, total: int) -> float | None:
    """tqdm's remaining time: elapsed x (total - done) / done; None before the first unit."""
    if done <= 0 or total <= done:
        return None if done <= 0 else 0.0
    return elapsed * (total - done) / done
