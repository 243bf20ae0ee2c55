"""`export_cast()`: the playlist recorded as an asciicast, an HTML page or a GIF.

The beats are the ones `play` gets, scheduled on a virtual clock (never late, never asleep)
and shown by the cast sink, so a cast holds the bytes a terminal of its size would get, stamped
with trace time. Files are written through llmsim.fileio.atomic_path: nothing half-written ever
has the name the user asked for.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from llmsim.bundled import bundled_traces
from llmsim.errors import UsageError
from llmsim.fileio import atomic_path
from llmsim.player.live.ansi import Styler
from llmsim.player.options import CastOptions, PlayOptions
from llmsim.player.scheduler.clock import Clock
from llmsim.player.scheduler.playlist import expand_paths, iter_show
from llmsim.player.scheduler.runner import Runner
from llmsim.player.sinks import Report
from llmsim.player.sinks.asciicast import CastHeader
from llmsim.player.sinks.cast import CastSink
from llmsim.player.views.renderer import RenderOptions
from llmsim.sanitize import clean_name
from llmsim.trace import RunConfig, TraceError

if TYPE_CHECKING:
    from llmsim.player.sinks.gif import Progress

__all__ = ["CastOptions", "export_cast", "heading", "write_cast"]

SUFFIXES: Final = (".cast", ".html", ".gif")


def heading(config: RunConfig | None) -> str:
    """The neutral title of a recording: `Llama-3-70B · 512× H100`."""
    if config is None:
        return "llmsim"
    return f"{clean_name(config.model)} · {config.gpus:,}× {clean_name(config.gpu_short)}"


def export_cast(
    paths: Sequence[Path],
    output: str,
    options: CastOptions,
    *,
    report: Report,
    progress: Progress | None = None,
) -> int:
    """Write the recording to `output`: `x.cast`, `x.html`, `x.gif`, or `-` (a cast on stdout).

    Unreadable traces are reported through `report` and skipped: the recording holds the
    others and the exit status returned is 1 (0 when every trace played). UsageError for an
    output kind llmsim cannot write, InputError if no trace can be played or the file cannot.
    `progress(done, total)` hears how far a GIF's rendering is.
    """
    skipped: list[str] = []

    def say(message: str) -> None:
        skipped.append(message)
        report(message)

    suffix = Path(output).suffix.lower()
    if output != "-" and suffix not in SUFFIXES:
        raise UsageError(f"-o must end in .cast, .html or .gif (or be -), not {output!r}")
    files = expand_paths(paths) if paths else bundled_traces()
    config = _first_config(files)
    header = CastHeader(
        version=options.version,
        cols=options.cols,
        rows=options.rows,
        timestamp=int(config.start_time) if config is not None else None,
        idle_time_limit=options.idle_time_limit,
        title=options.title or heading(config),
    )
    if output == "-":
        write_cast(files, header, options, sys.stdout.write, say)
        sys.stdout.flush()
    elif suffix == ".html":
        _write_html(files, header, options, Path(output), say)
    elif suffix == ".gif":
        _write_gif(files, header, options, Path(output), say, progress)
    else:
        with (
            atomic_path(Path(output), overwrite=options.overwrite) as tmp,
            tmp.open("w", encoding="utf-8", newline="\n") as fh,
        ):
            write_cast(files, header, options, fh.write, say)
    return 1 if skipped else 0


def write_cast(
    files: Sequence[Path],
    header: CastHeader,
    options: CastOptions,
    write: Callable[[str], object],
    report: Report,
    *,
    hand_back: bool = True,
) -> None:
    """Record the playlist as cast lines through `write` (ShowError if nothing plays).

    With `options.length` the recording ends that many seconds after its start, where the
    runs' own end would come later: its last event (the region left tidy) is at exactly that
    time, so a 30 s recording lasts 30 s in every player. `hand_back=False` leaves out the
    closing bytes that give the terminal back to a shell (the cursor on a new row below the
    screen, which scrolls it): a GIF ends on the screen as it was.
    """
    play = PlayOptions(
        speed=options.speed,
        once=True,
        start_at=options.start_at,
        stop_at=options.stop_at,
        timestamps="trace",
        layout=options.layout,
        idle_time_limit=options.idle_time_limit,
    )
    # A recording is the same wherever it is made: tmux's status line is drawn even when the
    # cast is made inside a real tmux.
    render = RenderOptions(
        ascii=options.ascii, utc=True, verbatim=options.layout != "classic", color=options.color
    )
    sink = CastSink(header, Styler(options.color, options.ascii), write, report, options.layout)
    clock = Clock.virtual()
    runner = Runner(sink, clock, exit_after=options.length)
    sink.start()
    runner.run(iter_show(files, play, render))
    sink.close(clock.elapsed(), hand_back)  # the last beat's time, or the length that cut it


def _first_config(files: Sequence[Path]) -> RunConfig | None:
    from llmsim.trace import open_trace

    for path in files:
        with contextlib.suppress(TraceError):
            return open_trace(path).config
    return None


def _write_html(
    files: Sequence[Path], header: CastHeader, options: CastOptions, target: Path, say: Report
) -> None:
    from llmsim.player.sinks.html_page import embed, page_parts

    head, tail = page_parts(
        title=header.title or "llmsim",
        cols=options.cols,
        rows=options.rows,
        idle_time_limit=options.idle_time_limit,
        loop=options.loop,
        theme=options.theme,
    )
    with (
        atomic_path(target, overwrite=options.overwrite) as tmp,
        tmp.open("w", encoding="utf-8", newline="\n") as fh,
    ):
        fh.write(head)  # then the cast as it is recorded: the page is never held whole
        write_cast(files, header, options, lambda piece: fh.write(embed(piece)), say)
        fh.write(tail)


def _write_gif(
    files: Sequence[Path],
    header: CastHeader,
    options: CastOptions,
    target: Path,
    say: Report,
    progress: Progress | None,
) -> None:
    from llmsim.player.sinks import gif

    gif.require_agg(target)  # say so before recording anything
    gif.check_size(options.cols, options.rows, options.font_size)
    settings = gif.GifSettings(
        fps=options.fps,
        font_size=options.font_size,
        theme=options.theme,
        idle_time_limit=options.idle_time_limit,
    )
    with atomic_path(target, overwrite=options.overwrite) as tmp, tmp.open("wb") as out:
        gif.render_gif(
            # agg holds the last frame 3 s (and the GIF loops): the screen, not a shell's turn.
            lambda write: write_cast(files, header, options, write, say, hand_back=False),
            out,
            settings,
            target=target,
            progress=progress,
        )
