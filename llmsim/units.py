"""Parsing of the human durations the CLI takes (90s, 20m, 1h30m)."""

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
