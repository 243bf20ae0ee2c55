"""Sinks, the only writers of playback bytes: a terminal and a cast, behind one interface.

The scheduler hands a sink frames (a time, log lines to print, what the live region is drawn
from, chapter markers); the sink lays the region out for its size, has the live region compose
the bytes, and writes them. The terminal sleeps for real time; a cast stamps trace time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from llmsim.player.views.segments import Line, View

# Prints one line for the user (a trace was skipped); the CLI passes its own.
Report = Callable[[str], None]


class Frame(NamedTuple):
    """What a sink shows at one time."""

    at: float  # playlist seconds
    logs: Sequence[Line]  # printed above the region, in order
    view: View | None  # what the region is drawn from (None: no region)
    markers: tuple[str, ...] = ()  # chapters starting here (casts keep them)


class Sink(Protocol):
    """A destination for frames."""

    def start(self) -> None:
        """Before the first frame."""

    def prepare(self, view: View | None) -> None:
        """Lay the region out ahead of its deadline (a no-op where time does not matter)."""

    def show(self, frame: Frame) -> None:
        """Print the frame's logs and draw its region."""

    def resize(self) -> None:
        """The destination changed size: lay the region out again."""

    def suspend(self) -> None:
        """The process is about to stop (Ctrl-Z): leave the destination tidy meanwhile."""

    def resume(self) -> None:
        """The process continued: draw what the destination shows again."""

    def notice(self, message: str) -> None:
        """Tell the user something (a trace was skipped) without corrupting the screen."""

    def close(self, at: float) -> None:
        """After the last frame: leave the destination tidy."""
