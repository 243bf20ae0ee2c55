"""`llmsim cast`: export runs as an asciicast, a self-contained HTML page or an animated GIF."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from llmsim.cli import params, report
from llmsim.cli.common import (
    IdleTimeLimitOption,
    LayoutOption,
    SpeedOption,
    StartAtOption,
    StopAtOption,
    TracesArgument,
)
from llmsim.cli.params import GIF_THEMES, THEMES, choice, completer
from llmsim.cli.progress import progress_line
from llmsim.cli.stdio import require_stdout
from llmsim.errors import UsageError

if TYPE_CHECKING:
    from llmsim.player.options import GifTheme, StartAt, Theme

FORMATS: Final = ("v2", "v3")
COLS: Final = (20, 1000)
ROWS: Final = (5, 500)
FPS: Final = (1, 50)  # llmsim.player.options.GIF_FPS (tests/test_cli_help.py pins them equal)
FONT_SIZES: Final = (6, 72)  # llmsim.player.options.GIF_FONT_SIZES
EXAMPLES: Final = (
    "llmsim cast llama-3-8b-sft -o run.gif --start-at train --length 30s",
    "llmsim cast llama-3-8b-sft -o demo.cast --cols 120 --rows 36",
    "llmsim cast llama-3-8b-sft -o run.html --speed 10 --loop --theme dracula",
    "llmsim cast llama-3-70b-pretrain -o start-up.html --stop-at train --speed 5",
    "llmsim cast llama-3-8b-sft -o - --format v3 | head -c 300",
)


def cast(
    traces: TracesArgument = None,
    output: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            metavar="OUT.cast|OUT.html|OUT.gif|-",
            help="Where to write: an asciicast recording, a self-contained HTML page with the "
            "asciinema web player (plays offline), an animated GIF that loops forever (drawn by "
            "agg, from the gif extra), or - for the cast on stdout.",
        ),
    ] = ...,  # type: ignore[assignment]  # typer's marker of a required option
    cols: Annotated[
        int,
        typer.Option(metavar="N", help=f"Terminal width of the recording ({COLS[0]}-{COLS[1]})."),
    ] = 120,
    rows: Annotated[
        int,
        typer.Option(metavar="N", help=f"Terminal height of the recording ({ROWS[0]}-{ROWS[1]})."),
    ] = 36,
    speed: SpeedOption = 1.0,
    start_at: StartAtOption = None,
    stop_at: StopAtOption = None,
    length: Annotated[
        str | None,
        typer.Option(
            "--length",
            metavar="DURATION",
            help="Keep this much of the recording, from its start (30s, 2m, 1h): a page or a "
            "GIF of a known length. All of it if omitted.",
        ),
    ] = None,
    layout: LayoutOption = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="|".join(FORMATS),
            help="asciicast version. v2 plays everywhere; v3 files cannot be opened by the "
            "asciinema 2.4 installed with llmsim (asciinema 3 and the web player read them).",
            autocompletion=completer(FORMATS),
        ),
    ] = "v2",
    idle_time_limit: IdleTimeLimitOption = None,
    title: Annotated[
        str | None,
        typer.Option(
            "-t",
            "--title",
            metavar="TITLE",
            help="Title of the cast and heading of the HTML page. The first run's model and "
            "cluster if omitted.",
        ),
    ] = None,
    loop: Annotated[
        bool,
        typer.Option(
            "-l",
            "--loop",
            help="HTML: start again when done (for a kiosk or a booth). A GIF always loops.",
        ),
    ] = False,
    theme: Annotated[
        str | None,
        typer.Option(
            metavar="THEME",
            help=f"Colour theme. HTML, the web player's: {', '.join(THEMES)} (its default, "
            f"asciinema, if omitted). GIF, agg's: {', '.join(GIF_THEMES)} (dracula if omitted).",
            autocompletion=completer(sorted({*THEMES, *GIF_THEMES})),
        ),
    ] = None,
    fps: Annotated[
        int | None,
        typer.Option(
            "--fps",
            metavar="N",
            help=f"GIF: frames per second at most ({FPS[0]}-{FPS[1]}); fewer make a smaller "
            "file. 12 if omitted.",
        ),
    ] = None,
    font_size: Annotated[
        int | None,
        typer.Option(
            "--font-size",
            metavar="N",
            help=f"GIF: font size in pixels ({FONT_SIZES[0]}-{FONT_SIZES[1]}). 14 if omitted.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("-f", "--force", help="Overwrite the output file if it exists.")
    ] = False,
) -> None:
    """Export runs as an asciinema recording, an offline HTML page or a GIF.

    Nothing is waited for: the recording holds exactly the bytes `llmsim play` writes to a
    terminal of that size, stamped with the runs' own times (an hour-long run exports in about
    a second), with a chapter marker per phase; the same runs and options always give the same
    file. Plays with `asciinema play OUT.cast`. With no run named, all bundled runs, one after
    another. --start-at, --stop-at and --length cut a window out of any recording.
    """
    suffix = _check_output(output)
    if suffix == "-":
        require_stdout()  # say a closed stdout before any work
    if loop and suffix not in (".html", ".gif"):
        raise UsageError("--loop applies to .html output (a .gif always loops)")
    for given, name in ((fps, "--fps"), (font_size, "--font-size")):
        if given is not None and suffix != ".gif":
            raise UsageError(f"{name} applies to .gif output")
    from llmsim.cli.signals import terminate_as_interrupt
    from llmsim.player import export_cast
    from llmsim.player.options import CastOptions

    options = CastOptions(
        cols=_within(cols, COLS, "--cols"),
        rows=_within(rows, ROWS, "--rows"),
        speed=params.speed(speed),
        version=3 if choice(fmt, FORMATS, "--format") == "v3" else 2,
        idle_time_limit=params.duration(idle_time_limit, "--idle-time-limit"),
        title=None if title is None else params.text(title),
        start_at=params.start_at(start_at),
        stop_at=_stop_after_start(params.start_at(stop_at, "--stop-at"), start_at),
        length=params.duration(length, "--length"),
        overwrite=force,
        loop=loop,
        theme=_theme(theme, suffix),
        fps=12 if fps is None else _within(fps, FPS, "--fps"),
        font_size=14 if font_size is None else _within(font_size, FONT_SIZES, "--font-size"),
        layout=params.layout(layout, "tmux") or "tmux",
    )
    paths = params.resolve_traces(traces or [])  # none: export_cast takes the bundled runs
    with terminate_as_interrupt(), progress_line(Path(output).name) as show:
        status = export_cast(paths, output, options, report=report.warn, progress=show)
    if status:  # some trace was skipped (each said so): the recording holds the others
        raise typer.Exit(status)


def _theme(theme: str | None, suffix: str) -> Theme | GifTheme | None:
    """--theme checked against the themes of the output's player (HTML) or renderer (GIF)."""
    if theme is None:
        return None
    if suffix == ".html":
        return choice(theme, THEMES, "--theme")
    if suffix == ".gif":
        return choice(theme, GIF_THEMES, "--theme (for a .gif)")
    raise UsageError("--theme applies to .html and .gif output")


def _stop_after_start(stop: StartAt | None, start_text: str | None) -> StartAt | None:
    """The stop point, refused when it is a time or share at or before the start's."""
    start = params.start_at(start_text)
    if stop is None or start is None:
        return stop
    pairs = ((start.seconds, stop.seconds), (start.fraction, stop.fraction))
    if any(a is not None and b is not None and b <= a for a, b in pairs):
        raise UsageError(f"--stop-at must come after --start-at {start_text}")
    return stop


def _check_output(output: str) -> str:
    if output == "-":
        return "-"
    from llmsim.player.cast import SUFFIXES  # the formats export_cast writes

    suffix = Path(output).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(
            f"-o must end in {' or '.join(SUFFIXES)} (or be - for stdout), not {output!r}"
        )
    return suffix


def _within(value: int, bounds: tuple[int, int], option: str) -> int:
    checked = params.at_least(value, bounds[0], option, bounds[1])
    assert checked is not None
    return checked
