"""PlayOptions: what the user asked `llmsim play` for (speed, looping, colour, timestamps...)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ColorMode = Literal["auto", "always", "never"]
TimestampMode = Literal["wall", "trace"]


@dataclass(frozen=True)
class PlayOptions:
    """Options of one playback session; the CLI builds one from its flags."""

    speed: float = 1.0  # playlist time = trace time / speed
    once: bool = False  # play each trace once, then exit 0 (default: loop forever)
    shuffle: bool = False  # new random order every cycle (seeded by `seed`)
    exit_after: float | None = None  # stop cleanly (exit 0) after this many wall seconds
    color: ColorMode = "auto"  # auto: colour on a TTY unless NO_COLOR is set or TERM=dumb
    timestamps: TimestampMode = "wall"  # wall: stamps start at the wall clock; trace: start_time
    ascii: bool | None = None  # ASCII glyphs only; None: decide from the locale's encoding
    seed: int | None = None  # shuffle seed (None: a fresh order each session)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"speed must be a positive number, not {self.speed}")
        if self.exit_after is not None and not self.exit_after >= 0:
            raise ValueError(f"exit_after must be >= 0 seconds, not {self.exit_after}")
        if self.color not in ("auto", "always", "never"):
            raise ValueError(f"color must be auto, always or never, not {self.color!r}")
        if self.timestamps not in ("wall", "trace"):
            raise ValueError(f"timestamps must be wall or trace, not {self.timestamps!r}")
