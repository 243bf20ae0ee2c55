"""`play()`: stream traces to the terminal with their original timing, forever or once.

Exit statuses (the CLI passes them through; llmsim.errors holds them):
  0    the playlist ended (--once, fresh runs ran out), --exit-after or --exit-after-runs
  1    the same, but some trace could not be played (each reported through `report` as one
       line and skipped, the rest played), or no trace could be played at all; a failed
       write to stdout is InputError (`cannot write to stdout: No space left on device`)
  128+n  a stop signal n (llmsim.errors.stop_signals: 129 SIGHUP, 130 SIGINT (Ctrl-C),
       131 SIGQUIT (Ctrl-\\), 143 SIGTERM, 138 SIGUSR1, 152 SIGXCPU...): stopped within about
       a second (even with the output suspended or unread, as --exit-after is), terminal
       restored
  129  also: the terminal was closed (writes fail with EIO), silently
  141  the reader of a pipe went away (EPIPE): stopped at once, silently
Ctrl-Z stops the process with the terminal restored; `fg` draws the live region again.
"""

from __future__ import annotations

import codecs
import dataclasses
import errno
import itertools
import locale
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from llmsim.errors import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGPIPE,
    InputError,
    os_reason,
)
from llmsim.player.live.ansi import Styler
from llmsim.player.options import Layout, PlayOptions
from llmsim.player.scheduler.clock import Clock
from llmsim.player.scheduler.playlist import ShowError, iter_show
from llmsim.player.scheduler.runner import Runner
from llmsim.player.scheduler.signals import Signals
from llmsim.player.sinks import Report
from llmsim.player.sinks.terminal import TerminalSink, WriteAborted, is_broken_pipe
from llmsim.player.sinks.terminfo import cursor_addressing
from llmsim.player.views.renderer import RenderOptions

__all__ = ["PlayOptions", "play", "resolve_ascii", "resolve_color", "resolve_layout"]

# Outputs that went away: nothing more is written to them, nothing is said.
_GONE: Final = frozenset({EXIT_SIGPIPE, EXIT_SIGHUP})


def resolve_layout(requested: Layout | None, cursor: bool) -> Layout:
    """The layout asked for; else tmux's on a terminal that takes cursor moves, plain lines on
    anything else (a pipe, a file, TERM=dumb)."""
    if requested is not None:
        return requested
    return "tmux" if cursor else "plain"


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
    fresh: Iterable[Path | None] | None = None,
    report: Report,
    fd: int | None = None,
    clock: Clock | None = None,
    wall_clock: Callable[[], float] = time.time,
    on_frame: Callable[[float, float], None] | None = None,
) -> int:
    """Play traces (files or folders; none: the bundled ones) on `fd`; return the exit status.

    `fresh`: after `paths` have played once, every path it yields plays (endless mode).
    `report` prints one warning line (a trace was skipped); the live region is cleared first.
    `fd`, `clock`, `wall_clock` and `on_frame` are for tests: output, time and a per-frame hook.
    """
    out_fd = sys.stdout.fileno() if fd is None else fd
    # A terminal that cannot take cursor moves (TERM=dumb, unknown) gets lines by default.
    cursor = os.isatty(out_fd) and cursor_addressing(os.environ)
    layout = resolve_layout(options.layout, cursor)
    options = dataclasses.replace(options, layout=layout)
    ascii_only = resolve_ascii(options.ascii)
    color = resolve_color(options.color, cursor, os.environ)
    styler = Styler(color, ascii_only)
    render = RenderOptions(
        ascii=ascii_only,
        utc=options.timestamps == "trace",
        verbatim=layout != "classic",
        color=color,
        tmux_status=not os.environ.get("TMUX"),  # inside tmux, its own status line is there
    )

    def size() -> tuple[int, int]:
        columns, lines = os.get_terminal_size(out_fd)
        return max(1, columns), max(1, lines)

    status = EXIT_OK
    with Signals(terminal=cursor) as signals:
        clk = clock or Clock(sleep=signals.sleep)

        def expired() -> bool:
            return options.exit_after is not None and clk.elapsed() >= options.exit_after

        # A write the output cannot take (Ctrl-S, a pipe nobody reads) gives up on these.
        stopping = lambda: signals.stop_status is not None or expired()  # noqa: E731
        sink = TerminalSink(out_fd, cursor, styler, size, report, stopping, layout)
        runner = Runner(sink, clk, signals, options.exit_after, options.exit_after_runs, on_frame)
        beats = iter_show(paths, options, render, wall_start=wall_clock(), fresh=fresh)
        try:
            # The terminal is taken (cursor hidden, tmux's screen) before the first trace is
            # opened: that reads its footer and imports pyarrow (most of start-up), and the
            # screen answers at once. The clock starts after it: its first frame is due then.
            sink.start()
            first = next(beats, None)
            clk.restart()
            status = runner.run(itertools.chain([first] if first else [], beats))
            if status == EXIT_OK and runner.notices:
                status = EXIT_INPUT  # played what could be played; say something was not
        except ShowError:
            status = EXIT_INPUT
        except WriteAborted:  # a stop signal, or --exit-after, while the output took no more
            status = signals.stop_status or (EXIT_INPUT if runner.notices else EXIT_OK)
        except KeyboardInterrupt:
            status = EXIT_SIGINT
        except OSError as exc:
            if sink.out.failed is not exc:
                raise
            status = _failed_write(exc, os.isatty(out_fd) or sink.tty)
        finally:
            beats.close()
            status = _restore(sink, out_fd, status)
    if sink.out.failed is not None and status not in _GONE:
        where = "stdout" if fd is None else f"file descriptor {out_fd}"
        raise InputError(f"cannot write to {where}: {os_reason(sink.out.failed)}")
    return status


def _failed_write(exc: OSError, tty: bool) -> int:
    """The status for a write the output refused: its reader gone (EPIPE, 141), its terminal
    closed (EIO, 129, as the SIGHUP that comes with it), or an error to report (1)."""
    if is_broken_pipe(exc):
        return EXIT_SIGPIPE
    if exc.errno == errno.EIO and tty:
        return EXIT_SIGHUP
    return EXIT_INPUT


def _restore(sink: TerminalSink, fd: int, status: int) -> int:
    """Always leave the terminal usable, unless it is gone (nothing more is written then)."""
    if sink.out.failed is None:
        try:
            sink.close(0.0)
            return status
        except OSError as exc:
            if sink.out.failed is not exc:
                raise
            status = _failed_write(exc, sink.tty)
    else:
        sink.out.close()
    if status in _GONE:
        # Point the fd at /dev/null so no later flush (ours or the interpreter's at exit)
        # fails again and prints a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return status
