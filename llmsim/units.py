"""The human spellings of time, size and counts that llmsim reads and prints: 90s, 20m, 2h10min,
12:30; 500MB, 2GB; 8.03B parameters; sparklines. One formatter each, for the command line and
the player alike (a context that needs other precision passes it as an option).

One parser serves every duration option (`--exit-after`, `--duration`, ...), so each accepts
the same spellings: genact's (`2h10min`, humantime's units), asciinema's plain seconds (`90`,
`2.5`) and the short forms (`250ms`, `1h30m`, `1.5h`). Sizes are bytes with decimal (kB, MB,
GB, TB; K, M, G, T) or binary (KiB, MiB, GiB, TiB) units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

# Unit spellings (lower case) -> seconds. Months and years are left out on purpose: no
# option of llmsim wants them, and humantime's `M` (months) would clash with minutes.
_UNITS: Final[dict[str, float]] = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
_PART: Final = re.compile(r"\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)")
_NUMBER: Final = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_SIZE_UNITS: Final[dict[str, int]] = {
    "": 1,
    "b": 1,
    **{u: 10**3 for u in ("k", "kb")},
    **{u: 10**6 for u in ("m", "mb")},
    **{u: 10**9 for u in ("g", "gb")},
    **{u: 10**12 for u in ("t", "tb")},
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE: Final = re.compile(r"(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)")
SIZE_EXAMPLES: Final = "500MB, 2GB or 1.5TB"
_CLOCK: Final = re.compile(r"(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d{2}(?:\.\d+)?)")
DURATION_EXAMPLES: Final = "90s, 20m, 1h30m, 2h10min or 250ms"


def parse_duration(text: str) -> float:
    """Seconds in a duration such as '90', '90s', '20m', '1h30m', '2h10min', '1.5h', '250ms'.

    ValueError (a message fit for the user) on anything else or on a duration that is not
    positive.
    """
    s = text.strip().lower()
    if not s:
        raise ValueError(f"empty duration (try {DURATION_EXAMPLES})")
    # A plain number is seconds, as asciinema spells it; anything else needs its units.
    total = float(s) if _NUMBER.fullmatch(s) else _sum_of_parts(s, text)
    if not math.isfinite(total):
        raise ValueError(f"too long to be a duration: {text[:40]!r}")
    if total <= 0:
        raise ValueError(f"a duration must be more than zero: {text!r}")
    return total


def _sum_of_parts(s: str, text: str) -> float:
    """The sum of '<number><unit>' parts, each with its unit ('2h10min', '1h 30m')."""
    total = 0.0
    pos = 0
    for m in _PART.finditer(s):
        if m.start() != pos or not m.group("unit"):
            break
        unit = m.group("unit")
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in {text!r} (try {DURATION_EXAMPLES})")
        total += float(m.group("num")) * _UNITS[unit]
        pos = m.end()
    if pos == 0 or s[pos:].strip():
        raise ValueError(f"not a duration: {text!r} (try {DURATION_EXAMPLES})")
    return total


def parse_size(text: str) -> int:
    """Bytes in a size such as '2GB', '500 MB', '1.5T', '64GiB' or '1000000' (plain bytes).

    ValueError (a message fit for the user) on anything else or on a size that is not positive.
    """
    m = _SIZE.fullmatch(text.strip().lower())
    if m is None or m.group("unit") not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text[:40]!r} (try {SIZE_EXAMPLES})")
    size = float(m.group("num")) * _SIZE_UNITS[m.group("unit")]
    if not math.isfinite(size) or size >= 2**63:
        raise ValueError(f"too large to be a size: {text[:40]!r}")
    if size < 1:
        raise ValueError(f"a size must be at least one byte: {text!r}")
    return int(size)


_SIZE_SCALES: Final = (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))


def format_size(size: float, *, decimals: int | None = None, unit: str | None = None) -> str:
    """Bytes in decimal units: three significant digits as a disk tool says them ('850 kB',
    '10.6 GB'), or `decimals` places ('16.06 GB'); in `unit` (one of TB, GB, MB, kB) whatever
    the size, as Hugging Face says shard sizes ('4.98 GB'). Below a kilobyte: '512 B'."""
    spec = ".3g" if decimals is None else f".{decimals}f"
    for name, scale in _SIZE_SCALES:
        if name == unit or (unit is None and size >= scale):
            return f"{size / scale:{spec}} {name}"
    return f"{int(size)} B"


def ls_size(n: int) -> str:
    """A size as `ls -lh` prints it (GNU coreutils' human_readable, ceiling): bytes below 1K as
    they are, else powers of 1024 rounded up, one decimal below 10 (`855`, `8.7M`, `4.7G`,
    `15G`)."""
    if n < 1024:
        return str(n)
    value = float(n)
    for unit in "KMGTPEZ":
        value /= 1024
        tenths = math.ceil(value * 10 - 1e-9) / 10
        if tenths < 10:
            return f"{tenths:.1f}{unit}"
        whole = math.ceil(value - 1e-9)
        if whole < 1024:
            return f"{whole}{unit}"
    return f"{math.ceil(value)}Y"


def format_params(n: int) -> str:
    """A parameter count the way model cards say it: 360M, 1.24B, 8.03B, 70.6B, 406B."""
    if n >= 1e9:
        return f"{n / 1e9:.3g}B"
    return f"{n / 1e6:.3g}M"


def sparkline(values: Sequence[float], levels: str, flat: int = 0) -> str:
    """One glyph of `levels` (lowest first) per value, from the smallest value to the largest;
    when they are all equal (or their spread is not finite) every glyph is `levels[flat]`."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0 or not math.isfinite(span):
        return levels[flat] * len(values)
    top = len(levels) - 1
    return "".join(levels[round((v - low) / span * top)] for v in values)


def format_clock(seconds: float) -> str:
    """A clock position as tqdm prints it: MM:SS, or H:MM:SS from one hour on (the inverse of
    parse_clock, whole seconds; negative counts as 0)."""
    s = int(seconds) if seconds > 0 else 0
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def parse_clock(text: str) -> float | None:
    """Seconds in a clock position 'MM:SS' or 'H:MM:SS' (None if `text` is not one; infinity
    if it is too far to be a float: it is past the end of anything)."""
    m = _CLOCK.fullmatch(text.strip())
    if m is None:
        return None
    whole = int(m.group("h") or 0) * 3600 + int(m.group("m")) * 60
    try:
        return float(whole) + float(m.group("s"))
    except OverflowError:  # 400 digits of minutes
        return math.inf


def format_duration(seconds: float, *, full: bool = False) -> str:
    """A short reading of a length of time: '45s', '23m', '1h05m', '2d03h'; `full`: every unit
    down to the second, as a run's total time ('42.3s', '12m 05s', '1h 02m 13s')."""
    if full:
        return _full_duration(seconds)
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{round(s / 60)}m" if s >= 600 else f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def _full_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = round(seconds)
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"
