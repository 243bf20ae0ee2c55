"""`play()`: stream traces to the terminal with their original timing, forever or once.

Exit statuses (the CLI passes them through):
  0    the playlist ended (--once) or --exit-after elapsed
  1    no playable trace (each bad file reported on stderr as one line)
  129  SIGHUP, 130 SIGINT (Ctrl-C), 143 SIGTERM: stopped cleanly, terminal restored
  141  the reader of a pipe went away (EPIPE): stopped at once, silently
"""

from __future__ import annotations

import codecs
import itertools
import locale
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from llmsim.player.clock import Clock
from llmsim.player.options import PlayOptions
from llmsim.player.renderer import RenderOptions
from llmsim.player.show import ShowError, expand_paths, iter_show
from llmsim.player.terminal import Signals, TerminalSink, is_broken_pipe

__all__ = ["PlayOptions", "bundled_traces", "play", "resolve_ascii", "resolve_color"]

EXIT_OK: Final = 0
EXIT_NO_TRACES: Final = 1
EXIT_BROKEN_PIPE: Final = 141
EXIT_INTERRUPTED: Final = 130
TIMING_ENV: Final = "LLMSIM_PLAYER_TIMING"  # debug: write "at lateness" per frame to this file


def bundled_traces() -> list[Path]:
    """The sample traces installed with the package (llmsim/traces/*.parquet), sorted."""
    folder = Path(__file__).resolve().parent.parent / "traces"
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def resolve_color(mode: str, tty: bool, environ: Mapping[str, str]) -> bool:
    """Colour on or off: always/never as asked; auto = a TTY, NO_COLOR unset, TERM not dumb."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return tty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def resolve_ascii(requested: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    """ASCII glyphs when asked, or when the locale's character set is not UTF-8.

    Python turns on its UTF-8 mode by itself when the locale is C or POSIX (PEP 540), and then
    reports UTF-8 whatever the terminal does; that case is a non-UTF-8 locale too. The locale
    Python actually set (nl_langinfo) is asked otherwise, never the UTF-8 mode's encoding.
    """
    if requested is not None:
        return requested
    env = os.environ if environ is None else environ
    if sys.flags.utf8_mode and env.get("PYTHONUTF8") != "1" and "utf8" not in sys._xoptions:
        return True  # UTF-8 mode was not asked for: Python found a C/POSIX locale at startup
    try:
        codeset = locale.nl_langinfo(locale.CODESET)
    except (AttributeError, ValueError):  # no nl_langinfo (Windows)
        codeset = locale.getpreferredencoding(False)
    try:
        return codecs.lookup(codeset or "ascii").name != "utf-8"
    except LookupError:
        return True


def play(
    paths: Sequence[Path],
    options: PlayOptions,
    *,
    fd: int | None = None,
    clock: Clock | None = None,
) -> int:
    """Play traces (files or folders; none: the bundled ones) on `fd`; return the exit status."""
    out_fd = sys.stdout.fileno() if fd is None else fd
    files = expand_paths(paths) if paths else bundled_traces()
    if not files:
        os.write(2, b"llmsim: no traces to play (give a trace file or folder)\n")
        return EXIT_NO_TRACES
    tty = os.isatty(out_fd)
    render = RenderOptions(
        color=resolve_color(options.color, tty, os.environ),
        ascii=resolve_ascii(options.ascii),
        utc=options.timestamps == "trace",
    )
    timing: list[tuple[float, float]] = []
    timing_path = os.environ.get(TIMING_ENV)
    on_write: Callable[[float, float], None] | None = None
    if timing_path:
        on_write = lambda at, late: timing.append((at, late))  # noqa: E731

    def size() -> tuple[int, int]:
        columns, lines = os.get_terminal_size(out_fd)
        return max(1, columns), max(1, lines)

    status = EXIT_OK
    with Signals(watch_resize=tty) as signals:
        clk = clock or Clock(sleep=signals.sleep)
        sink = TerminalSink(out_fd, tty, clk, signals, size, on_write)
        beats = iter_show(files, options, render, wall_start=time.time(), on_error=sink.report)
        try:
            # Open the first trace before the clock starts: its first frame is due at once.
            first = next(beats, None)
            clk.restart()
            sink.start()
            status = sink.run(itertools.chain([first] if first else [], beats), options.exit_after)
        except ShowError:
            status = EXIT_NO_TRACES
        except KeyboardInterrupt:
            status = EXIT_INTERRUPTED
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            status = EXIT_BROKEN_PIPE
        finally:
            beats.close()
            status = _restore(sink, out_fd, status)
    if timing_path:
        with open(timing_path, "w", encoding="utf-8") as fh:
            fh.writelines(f"{at:.6f} {late:.6f}\n" for at, late in timing)
    return status


def _restore(sink: TerminalSink, fd: int, status: int) -> int:
    """Always leave the terminal usable; after EPIPE, write nothing more (and keep quiet)."""
    if status != EXIT_BROKEN_PIPE:
        try:
            sink.close()
            return status
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
    # The reader is gone: point the fd at /dev/null so no later flush (ours or the
    # interpreter's at exit) raises BrokenPipeError and prints a traceback.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return EXIT_BROKEN_PIPE
