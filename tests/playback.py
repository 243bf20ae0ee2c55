"""Test harness: the real scheduler and sinks, fed to pyte screens; one tmux harness.

`record()` plays traces through the playlist, the runner and the cast sink (the bytes a terminal
of that size gets, as the byte-equality test proves) and feeds every output event to a pyte
screen as it is written, so a test can look at the screen after any frame. `Tmux` runs the real
`llmsim play` in a real terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shlex
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyte
import pytest

from llmsim.player import play
from llmsim.player.live.ansi import Styler
from llmsim.player.options import Layout, PlayOptions, StartAt
from llmsim.player.scheduler.clock import Clock
from llmsim.player.scheduler.playlist import iter_show
from llmsim.player.scheduler.runner import Runner
from llmsim.player.sinks import Frame
from llmsim.player.sinks.asciicast import CastHeader
from llmsim.player.sinks.cast import CastSink
from llmsim.player.views.renderer import RenderOptions
from llmsim.player.views.segments import line_row, plain

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Recording:
    """What a recording wrote: the screen, the output, the markers and the lines printed."""

    cols: int
    rows: int
    screen: pyte.Screen = field(init=False)
    stream: pyte.Stream = field(init=False)
    output: list[str] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)  # plain text of every log line
    region: list[str] = field(default_factory=list)  # the live region after the last frame

    @property
    def region_rows(self) -> int:
        return len(self.region)

    def __post_init__(self) -> None:
        self.screen = pyte.Screen(self.cols, self.rows)
        self.stream = pyte.Stream(self.screen)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def log_rows(self) -> list[str]:
        """The screen rows above the live region (the region's last row holds the cursor)."""
        top = self.screen.cursor.y - self.region_rows + 1
        return self.lines()[: max(0, top)]


class _Sink(CastSink):
    """The cast sink, with the frames it shows noted for the checks."""

    def __init__(
        self, rec: Recording, color: bool, on_frame: Callable[[Frame], None], layout: Layout
    ) -> None:
        header = CastHeader(2, rec.cols, rec.rows)
        super().__init__(header, Styler(color), self._write, print, layout)
        self.rec = rec
        self.on_frame = on_frame

    def _write(self, line: str) -> None:
        if line.startswith("{"):
            return  # the header
        at, code, data = json.loads(line)
        if code == "m":
            self.rec.markers.append((at, data))
            return
        self.rec.output.append(data)
        # pyte stops drawing a write at a zero-width character that combines with nothing
        # (Screen.draw's `break`): U+FE0F after W&B's star would cut the rest of the frame.
        # tmux and xterm draw the star and go on (tests/test_player_tmux_tools.py checks it in
        # a real tmux); the variation selector changes no cell.
        self.rec.stream.feed(data.replace("\ufe0f", ""))

    def show(self, frame: Frame) -> None:
        self.rec.printed += [plain(line_row(line)) for line in frame.logs]
        super().show(frame)
        self.rec.region = self.region.lines if self.region is not None else []
        self.on_frame(frame)


def record(
    paths: Sequence[Path],
    cols: int,
    rows: int,
    *,
    color: bool = False,
    start_at: StartAt | None = None,
    speed: float = 1.0,
    frame_cost: float = 0.0,
    on_frame: Callable[[Recording, Frame], None] | None = None,
    layout: Layout = "classic",
    idle_time_limit: float | None = None,
) -> Recording:
    """Play `paths` once into a pyte screen of cols × rows, calling `on_frame` after each frame.

    `frame_cost`: playlist seconds each frame takes to write, as on a slow terminal: beats
    that fall due meanwhile are coalesced by the scheduler (logs held, region-only beats
    skipped), as the terminal sink does when it falls behind. 0: every beat is drawn, as in
    a cast.
    """
    rec = Recording(cols, rows)
    now = [0.0]

    def after_frame(frame: Frame) -> None:
        now[0] += frame_cost
        if on_frame is not None:
            on_frame(rec, frame)

    def sleep(seconds: float) -> bool:
        now[0] += seconds
        return False

    sink = _Sink(rec, color, after_frame, layout)
    options = PlayOptions(
        speed=speed,
        once=True,
        start_at=start_at,
        timestamps="trace",
        layout=layout,
        idle_time_limit=idle_time_limit,
    )
    runner = Runner(sink, Clock(lambda: now[0], sleep))
    sink.start()
    render = RenderOptions(utc=True, verbatim=layout != "classic", color=color)
    runner.run(iter_show(paths, options, render))
    sink.close(runner.last_at)
    return rec


class Tmux:
    """A tmux server of its own running one command in a window of a given size."""

    def __init__(self) -> None:
        self.socket = f"llmsim-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return proc.stdout

    def lines(self) -> list[str]:
        return self("capture-pane", "-p", "-t", "play").splitlines()

    def wait_for(
        self, what: str, check: Callable[[list[str]], bool], timeout: float = 30
    ) -> list[str]:
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.lines()
            if check(lines):
                return lines
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; pane:\n" + "\n".join(lines))


@contextmanager
def tmux_running(argv: Sequence[str], cols: int, rows: int) -> Iterator[Tmux]:
    """`argv` in a fresh tmux window of cols × rows; `EXIT=<status>` is printed when it ends."""
    t = Tmux()
    script = f"{shlex.join(argv)}; echo EXIT=$?; sleep 600"
    env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "screen-256color"}
    flags = [x for k, v in env.items() for x in ("-e", f"{k}={v}")]
    size = ["-x", str(cols), "-y", str(rows)]
    t("new-session", "-d", "-s", "play", *size, "-c", str(REPO), *flags, "bash", "-c", script)
    try:
        yield t
    finally:
        subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True, check=False)


LLMSIM = [sys.executable, "-m", "llmsim"]


def play_on_pty(
    traces: Sequence[Path],
    options: PlayOptions,
    *,
    clock: Clock | None = None,
    on_frame: Callable[[float, float], None] | None = None,
    raw_newlines: bool = False,
) -> tuple[int, bytes]:
    """play() in this process on a 100x30 pty that a thread drains: its status and the bytes.

    With `raw_newlines` the tty does not turn \\n into \\r\\n, so the bytes are the ones play
    wrote (to compare with a cast)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    if raw_newlines:
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        status = play(list(traces), options, fd=slave, clock=clock, report=print, on_frame=on_frame)
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    return status, bytes(received)
