"""Test helpers: drive iter_show + LiveRegion into a pyte screen, as a terminal would get it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyte
from rich.cells import cell_len
from rich.text import Text

from llmsim.player import LiveRegion, PlayOptions, RenderOptions, iter_show
from llmsim.player.show import Beat


def plain(line: str) -> str:
    return Text.from_ansi(line).plain if "\x1b" in line else line


def width_of(line: str) -> int:
    return cell_len(plain(line))


@dataclass
class Screen:
    cols: int
    rows: int
    screen: pyte.Screen = field(init=False)
    stream: pyte.ByteStream = field(init=False)
    written: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self.screen = pyte.Screen(self.cols, self.rows)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, text: str) -> None:
        data = text.encode("utf-8")
        self.written += data
        self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]


def frames(
    paths: list[Path], cols: int, rows: int, color: bool = False, ascii_only: bool = False
) -> Iterator[tuple[Beat, list[str] | None, Screen]]:
    """Play `paths` once into a pyte screen; yield (beat, region drawn, screen) per beat."""
    screen = Screen(cols, rows)
    region = LiveRegion(cols)
    screen.feed(region.start())
    options = PlayOptions(once=True, timestamps="trace")
    render = RenderOptions(color=color, ascii=ascii_only, utc=True)
    for beat in iter_show(paths, options, render):
        drawn = None
        if beat.logs or beat.live:
            drawn = beat.region(cols, rows)
            screen.feed(region.frame(beat.logs, drawn))
        yield beat, drawn, screen
    screen.feed(region.close())
    yield Beat(float("inf"), [], False, "end", None, None), None, screen
