"""Number formatting for the views: durations, sizes, rates, perplexity digits.

These only format values that come from the trace (units, rounding, digit grouping); they never
derive a new figure, except the tqdm-style remaining time and percentages the brief allows.
Clocks, durations and sizes are llmsim.units' formatters at the precision the views show.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Final

from llmsim.units import format_clock, format_duration, format_size

_SI: Final = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))


clock = format_clock  # tqdm's elapsed/remaining format
duration = partial(format_duration, full=True)  # a total run time: 1h 02m 13s, 42.3s
size = partial(format_size, decimals=2)  # 512 B, 2.40 kB, 16.06 GB
gigabytes = partial(format_size, decimals=2, unit="GB")  # shard sizes as Hugging Face says them


def tqdm_rate(done: int, elapsed: float, unit: str | None) -> str:
    """tqdm's rate as its meter shows it: `10.52it/s`, ` 2.71s/it` below one per second,
    `1.95GB/s` for bytes (unit_scale), `?it/s` before the first unit."""
    if unit == "B":
        return f"{size(done / elapsed).replace(' ', '')}/s" if done and elapsed > 0 else "?B/s"
    if not done or elapsed <= 0:
        return "?it/s"
    rate = done / elapsed
    return f"{rate:5.2f}it/s" if rate >= 1 else f"{1 / rate:5.2f}s/it"


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
