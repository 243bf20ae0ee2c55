"""`llmsim cast`: the cast sink — the beat stream written as an asciicast or an HTML page.

The frames are composed exactly as the terminal sink composes them when it keeps up (same
renderer, same LiveRegion, same size), but stamped with trace time instead of being slept for,
so an hour-long run exports in about a second and the output bytes are deterministic.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llmsim.fileio import publish
from llmsim.player.asciicast import CastEncoder, CastHeader
from llmsim.player.html_page import build_page
from llmsim.player.live import LiveRegion
from llmsim.player.options import PlayOptions
from llmsim.player.play import bundled_traces
from llmsim.player.renderer import RenderOptions
from llmsim.player.show import ShowError, expand_paths, iter_show
from llmsim.trace import TraceError, open_trace


@dataclass(frozen=True)
class CastOptions:
    """What `llmsim cast` was asked for."""

    cols: int = 120
    rows: int = 36
    speed: float = 1.0
    version: Literal[2, 3] = 2
    idle_time_limit: float | None = None
    title: str | None = None
    overwrite: bool = False
    color: bool = True
    ascii: bool = False


def cast_lines(
    paths: Sequence[Path], options: CastOptions, on_error: Callable[[str], None] | None = None
) -> Iterator[str]:
    """Yield the cast file line by line: the header, then output and marker events."""
    files = expand_paths(paths) if paths else bundled_traces()
    header = CastHeader(
        version=options.version,
        cols=options.cols,
        rows=options.rows,
        timestamp=_start_timestamp(files),
        idle_time_limit=options.idle_time_limit,
        title=options.title,
    )
    yield header.to_line()
    encoder = CastEncoder(options.version)
    region = LiveRegion(options.cols)
    play = PlayOptions(speed=options.speed, once=True, timestamps="trace")
    render = RenderOptions(color=options.color, ascii=options.ascii)
    yield encoder.line(0.0, "o", region.start())
    at = 0.0
    for beat in iter_show(files, play, render, on_error=on_error):
        at = beat.at
        if beat.marker is not None:
            yield encoder.line(at, "m", beat.marker)
        if not beat.logs and not beat.live:
            continue
        frame = region.frame(beat.logs, beat.region(options.cols, options.rows))
        if frame:
            yield encoder.line(at, "o", frame)
    yield encoder.line(at, "o", region.close())


def _start_timestamp(files: Sequence[Path]) -> int | None:
    for path in files:
        with contextlib.suppress(TraceError):
            return int(open_trace(path).config.start_time)
    return None


def export_cast(paths: Sequence[Path], output: str, options: CastOptions) -> None:
    """Write the cast to `output` (.cast, .html, or '-' for stdout) atomically.

    A file output is written to a temp file beside it and renamed only when complete, so a
    failure or Ctrl-C never leaves a partial file under the final name. Unreadable traces in
    the list are reported on stderr and skipped; TraceError if none can be played.
    """

    def warn(message: str) -> None:
        sys.stderr.write(f"llmsim: warning: {message} (skipped)\n")

    lines = cast_lines(paths, options, warn)
    try:
        if output == "-":
            out = sys.stdout
            for line in lines:
                out.write(line)
            out.flush()
            return
        target = Path(output)
        if target.exists() and not options.overwrite:
            raise TraceError(f"{target} exists (use --force to overwrite)")
        if target.suffix == ".html":
            text = "".join(lines)
            title = options.title or "llmsim — simulated LLM training run"
            page = build_page(
                text,
                title=title,
                cols=options.cols,
                rows=options.rows,
                idle_time_limit=options.idle_time_limit,
            )
            _write_atomic(target, [page], options.overwrite)
        else:
            _write_atomic(target, lines, options.overwrite)
    except ShowError as exc:
        raise TraceError(str(exc)) from None


def _write_atomic(target: Path, chunks: Iterator[str] | list[str], overwrite: bool = False) -> None:
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:  # a missing or read-only folder: say which file could not be made
        raise TraceError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would make a shareable cast private
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in chunks:
                fh.write(chunk)
        publish(Path(tmp), target, overwrite=overwrite)  # never replaces a file without --force
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):  # a full disk, a file size limit, an I/O error
            raise TraceError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
