"""The pieces every dialect uses: styled segments, lines, and stamp formatting."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

# (text, palette style name or None). Style names are the player's palette keys
# (llmsim.player.views.palette.PALETTE): "time", "origin", the level names, "metric_*", ...
Segment = tuple[str, str | None]
LEVEL_INITIAL: Final = {"DEBUG": "D", "INFO": "I", "WARNING": "W", "ERROR": "E", "CRITICAL": "F"}


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line: a prefix (stamp, level, logger; may be empty) and the body.

    A line too long for the terminal is wrapped by the renderer at spaces or separators,
    continuation rows indented by the prefix's width.
    """

    prefix: tuple[Segment, ...]
    body: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The line as plain text (no styles)."""
        return "".join(s for s, _ in self.prefix) + "".join(s for s, _ in self.body)


@dataclass(frozen=True)
class Stamps:
    """Formats the unix time a line is stamped with, in each stack's precision.

    `utc`: stamps in UTC (deterministic: casts and tests) or in local time.
    """

    utc: bool = True

    def _tm(self, when: float) -> time.struct_time:
        whole = int(round(when * 1_000_000) // 1_000_000)
        return time.gmtime(whole) if self.utc else time.localtime(whole)

    @staticmethod
    def _frac(when: float, digits: int) -> str:
        # From the microsecond-rounded time, so 15.0999999 stamps as 15.100000, never 15.099999.
        micros = round(when * 1_000_000) % 1_000_000
        text = f"{micros:06d}"
        if digits <= 6:
            return text[:digits]
        # c10's clock has nanoseconds the trace does not keep: digits that vary like them,
        # fixed by the microsecond so the same time always prints the same way
        return text + f"{(micros * 7919 + 13) % 1000:03d}"[: digits - 6]

    def pattern(self, fmt: str, when: float) -> str:
        """Any strftime pattern (a trace's `inline-stamp` lines choose theirs)."""
        try:
            return time.strftime(fmt[:64], self._tm(when))
        except ValueError:  # a pattern strftime refuses: show the seconds instead
            return self.seconds(when)

    def seconds(self, when: float) -> str:
        """2025-03-13 09:12:44"""
        return time.strftime("%Y-%m-%d %H:%M:%S", self._tm(when))

    def millis(self, when: float) -> str:
        """2025-03-13 09:12:44,031 (Python logging's asctime)"""
        return f"{self.seconds(when)},{self._frac(when, 3)}"

    def micros(self, when: float) -> str:
        """2025-03-13 09:12:44.031207 (Megatron's %f)"""
        return f"{self.seconds(when)}.{self._frac(when, 6)}"

    def us_date(self, when: float) -> str:
        """03/13/2025 09:12:44 (the HF example scripts' datefmt)"""
        return time.strftime("%m/%d/%Y %H:%M:%S", self._tm(when))

    def glog(self, when: float, level: str, digits: int = 6) -> str:
        """I0313 09:12:44.031000 (torchrun: microseconds ending in 000) or 9 digits (c10)."""
        tm = self._tm(when)
        frac = self._frac(when, 3) + "0" * (digits - 3) if digits == 6 else self._frac(when, 9)
        return f"{LEVEL_INITIAL.get(level, 'I')}{time.strftime('%m%d %H:%M:%S', tm)}.{frac}"
