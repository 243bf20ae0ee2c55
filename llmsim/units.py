"""Parsing and formatting of the human units the CLI takes and prints (durations, sizes)."""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"(?P<num>\d+(?:\.\d+)?)(?P<unit>h|m|s|ms)?")
_SCALE = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in '90', '90s', '20m', '1h30m', '1.5h' or '250ms'; ValueError on anything else."""
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError("empty duration")
    total = 0.0
    pos = 0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group("num")) * _SCALE[m.group("unit")]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f"not a duration: {text!r} (try 90s, 20m or 1h30m)")
    if not math.isfinite(total) or total <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """H:MM:SS (or M:SS under an hour), as training logs print elapsed times."""
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def format_bytes(n: int) -> str:
    """Decimal units as Hugging Face prints shard sizes: 4.98 GB, 1.2 MB."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
