"""Option values shared by several commands: checked once, with one wording for each mistake.

Every check raises `llmsim.errors.UsageError` (exit 2) with a one-line message naming the
option; `RUN|TRACE|DIR` arguments resolve bundled run names here. Nothing here imports typer
(the quick way into `play` uses these checks without it); the typer declarations of options
several commands share are in `llmsim.cli.common`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from llmsim.cli.completion import completer as completer  # used by every command's options
from llmsim.errors import InputError, UsageError
from llmsim.units import parse_clock, parse_duration, parse_size

if TYPE_CHECKING:
    from llmsim.generator.options import ModelChoice
    from llmsim.player.options import ColorMode, GifTheme, Layout, StartAt, Theme, TimestampMode

T = TypeVar("T", bound=str)

LIST: Final = "list"  # `--model list`, `--gpu-type list`, `--stack list`
START_POINTS_TEXT: Final = "train, eval, checkpoint, export, N% or MM:SS"


def choice(value: str, choices: Sequence[T], option: str) -> T:
    """`value` if it is one of `choices` (case-insensitive), else a UsageError listing them."""
    for c in choices:
        if value.strip().lower() == c.lower():
            return c
    raise UsageError(f"{option} must be one of {', '.join(choices)}; not {value!r}")


def text(value: str) -> str:
    """A free-text option (a title) as the user meant it: bytes that are not UTF-8, which Python
    keeps as lone surrogates that no UTF-8 file can hold, become U+FFFD."""
    return os.fsencode(value).decode("utf-8", "replace")


def duration(value: str | None, option: str) -> float | None:
    """Seconds in a duration option (None when omitted)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def size(value: str, option: str) -> int:
    """Bytes in a size option."""
    try:
        return parse_size(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def speed(value: float, option: str = "--speed") -> float:
    """A playback speed factor within the player's bounds (a thousandth to a million)."""
    from llmsim.player.options import MAX_SPEED, MIN_SPEED, speed_ok

    if not speed_ok(value):
        raise UsageError(
            f"{option} must be from {MIN_SPEED:g} to {MAX_SPEED:,.0f}, not {number(value)}"
        )
    return value


def number(value: float) -> str:
    """A number as the user typed it, near enough: 1000001, 0.5, 5e-324, inf (never rounded)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def at_least(value: int | None, low: int, option: str, high: int | None = None) -> int | None:
    """An integer option within [low, high] (None when omitted)."""
    if value is None:
        return None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise UsageError(f"{option} must be {bound}, not {value}")
    return value


def start_at(value: str | None, option: str = "--start-at") -> StartAt | None:
    """`--start-at` (or `--stop-at`) `train|eval|checkpoint|export|N%|MM:SS`: a point in a run,
    as the player's StartAt."""
    if value is None:
        return None
    from llmsim.player.options import START_POINTS, StartAt

    text = value.strip().lower()
    if text in START_POINTS:
        return StartAt(point=choice(text, START_POINTS, option))
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            percent = math.nan
        if not 0 <= percent < 100:
            raise UsageError(
                f"{option} {value!r}: a share of the run must be at least 0% and below 100%"
            )
        return StartAt(fraction=percent / 100)
    seconds = parse_clock(text)
    if seconds is None:
        raise UsageError(f"{option} must be one of {START_POINTS_TEXT}; not {value!r}")
    # Past the end of any run (each then plays from its start), however many digits it has.
    return StartAt(seconds=min(seconds, sys.float_info.max))


def resolve_traces(names: Sequence[str]) -> list[Path]:
    """Each RUN|TRACE|DIR argument as a path: an existing file or folder, else a bundled run.

    A bare name (no folder, no .parquet) that is none of them is an InputError naming it
    (exit 1) with where to look; an empty name is a UsageError (it would mean the current
    folder). A path that is missing or that cannot be looked at (a symlink loop, a folder
    that is not ours) is passed on, for the reader to say what it is, in one line with the
    others, while the rest play.
    """
    from llmsim.bundled import SUFFIX, find_bundled

    paths = []
    for name in names:
        if not name.strip():
            raise UsageError(f"{name!r} names no run, trace or folder")
        path = Path(name)
        missing = _missing(path)
        bare = path.name == name and not name.endswith(SUFFIX)
        # A bare name in a working folder that cannot be searched: no file of its can be
        # read anyway, and a bundled run of that name is what was meant.
        bundled = find_bundled(name) if missing or (bare and _unsearchable(path)) else None
        if bundled is not None:
            path = bundled
        elif missing and bare:
            raise InputError(f"{name}: no such file, folder or bundled run{_suggest(name)}")
        paths.append(path)
    return paths


def _suggest(name: str) -> str:
    """`; did you mean A or B?` with the bundled runs closest to `name`, else where to look."""
    from llmsim.bundled import bundled_names

    typed = name.lower()
    scored = sorted((_likeness(typed, n.lower()), -len(n), n) for n in bundled_names())[::-1]
    best = scored[0][0] if scored else 0.0
    # The closest few, not the rest of the list: within a quarter of the best, and like it.
    close = [n for score, _, n in scored if score >= max(0.6, best - 0.25)][:3]
    if not close:
        return " (`llmsim list` shows the runs)"
    either = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
    return f"; did you mean {either}? (`llmsim list` shows the runs)"


def _likeness(typed: str, run: str) -> float:
    """How much `typed` looks like the run's name, 0 to 1: 1 when it is part of it, else the
    better of its likeness to the whole name and to the name's beginning (names are typed from
    their start: `llama3-70b` is nearly `llama-3-70b…`)."""
    import difflib

    if typed in run:
        return 1.0
    whole = difflib.SequenceMatcher(None, typed, run).ratio()
    start = difflib.SequenceMatcher(None, typed, run[: len(typed) + 1]).ratio()
    return max(whole, start)


def _unsearchable(path: Path) -> bool:
    """True if looking `path` up fails for want of permission (its folder cannot be searched)."""
    try:
        os.stat(path)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def _missing(path: Path) -> bool:
    """True only if nothing is at `path` (not for a loop or a permission problem)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return not os.path.lexists(path)  # a dangling symlink is something, to be reported
    except OSError:
        return False
    return False


def layout(value: str | None, default: Layout | None = None) -> Layout | None:
    """`--layout` as the player's Layout (`default` when omitted)."""
    return default if value is None else choice(value, LAYOUTS, "--layout")


# The player's and generator's choices, mirrored so that `llmsim --help` imports neither
# (importing `llmsim.player` costs about 0.2 s): mypy checks each value against the real
# Literal type, and tests/test_cli_help.py pins the tuples equal to the real ones.
COLOR_MODES: Final[tuple[ColorMode, ...]] = ("auto", "always", "never")
TIMESTAMP_MODES: Final[tuple[TimestampMode, ...]] = ("wall", "trace")
LAYOUTS: Final[tuple[Layout, ...]] = ("tmux", "classic", "plain")
THEMES: Final[tuple[Theme, ...]] = (
    "asciinema",
    "dracula",
    "gruvbox-dark",
    "monokai",
    "nord",
    "seti",
    "solarized-dark",
    "solarized-light",
    "tango",
)
GIF_THEMES: Final[tuple[GifTheme, ...]] = (
    "asciinema",
    "dracula",
    "github-dark",
    "github-light",
    "monokai",
    "nord",
    "solarized-dark",
    "solarized-light",
)
MODEL_CHOICES: Final[tuple[ModelChoice, ...]] = ("real", "invented", "all")
