"""`llmsim cast`: export runs as an asciicast, a self-contained HTML page or an animated GIF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

from llmsim.cli import params, report
from llmsim.cli.params import (
    THEMES,
    IdleTimeLimitOption,
    LayoutOption,
    SpeedOption,
    StartAtOption,
    TracesArgument,
    choice,
    completer,
)
from llmsim.cli.stdio import require_stdout
from llmsim.errors import UsageError

FORMATS: Final = ("v2", "v3")
COLS: Final = (20, 1000)
ROWS: Final = (5, 500)
EXAMPLES: Final = (
    "llmsim cast llama-3-8b-sft -o demo.cast --cols 120 --rows 36",
    "llmsim cast llama-3-8b-sft -o run.html --speed 10 --loop --theme dracula",
    "llmsim cast llama-3-8b-sft -o run.gif --start-at train --cols 100 --rows 30 -i 2",
    "llmsim cast traces/llama-3-8b-sft.parquet -o - --format v3 | head -c 300",
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
            "asciinema web player (plays offline), an animated GIF (needs the gif extra: pip "
            "install 'llmsim[gif]'), or - for the cast on stdout.",
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
            "-l", "--loop", help="HTML and GIF: start again when done (for a kiosk or a booth)."
        ),
    ] = False,
    theme: Annotated[
        str | None,
        typer.Option(
            metavar="THEME",
            help=f"HTML: the web player's colour theme: {', '.join(THEMES)}. The player's "
            "default if omitted.",
            autocompletion=completer(THEMES),
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("-f", "--force", help="Overwrite the output file if it exists.")
    ] = False,
) -> None:
    """Export runs as an asciinema recording, an offline HTML page or a GIF.

    Nothing is waited for: the recording holds exactly the bytes `llmsim play` writes to a terminal of that size,
    stamped with the runs' own times (an hour-long run exports in about a second), with a
    chapter marker per phase; the same runs and options always give the same file. Plays with
    `asciinema play OUT.cast`. With no run named, all bundled runs, one after another.
    """
    suffix = _check_output(output)
    if suffix == "-":
        require_stdout()  # say a closed stdout before any work
    theme_name = None if theme is None else choice(theme, THEMES, "--theme")
    if loop and suffix not in (".html", ".gif"):
        raise UsageError("--loop applies to .html and .gif output")
    if theme_name is not None and suffix != ".html":
        raise UsageError("--theme applies to .html output")
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
        overwrite=force,
        loop=loop,
        theme=theme_name,
        layout=params.layout(layout, "tmux") or "tmux",
    )
    paths = params.resolve_traces(traces or [])  # none: export_cast takes the bundled runs
    with terminate_as_interrupt():
        status = export_cast(paths, output, options, report=report.warn)
    if status:  # some trace was skipped (each said so): the recording holds the others
        raise typer.Exit(status)


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
