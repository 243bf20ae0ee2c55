"""Options several commands declare alike, declared once (typer `Annotated` aliases).

Kept apart from `llmsim.cli.params` (the checks of the values), which must not import typer.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from llmsim.cli.completion import complete_runs, completer
from llmsim.cli.params import LAYOUTS

SpeedOption = Annotated[
    float,
    typer.Option(
        "-s",
        "--speed",
        "--speed-factor",  # genact's spelling
        metavar="X",
        help="Playback speed factor: 2 plays twice as fast, 0.5 at half speed.",
    ),
]


def _point(option: str, help_text: str) -> Any:  # typer.Option's own type: Any
    """A point in a run (`--start-at`, `--stop-at`): a chapter, a share of it or a time."""
    points = ("train", "eval", "checkpoint", "export")
    return typer.Option(
        option,
        metavar=f"{'|'.join(points)}|N%|MM:SS",
        help=help_text,
        autocompletion=completer(points),
    )


StartAtOption = Annotated[
    str | None,
    _point(
        "--start-at",
        "Where each run starts: its first training step, validation, checkpoint or export, a "
        "share of its length, or a time into it; the screen starts as it would be there. From "
        "the beginning if omitted.",
    ),
]
StopAtOption = Annotated[
    str | None,
    _point(
        "--stop-at",
        "Where each run stops, after its start: before its first training step, validation, "
        "checkpoint or export, or at a share of its length or a time into it (--start-at eval "
        "--stop-at eval: one evaluation period). At its end if omitted.",
    ),
]
LayoutOption = Annotated[
    str | None,
    typer.Option(
        "--layout",
        metavar="|".join(LAYOUTS),
        help="What the screen looks like: tmux (its status line and panes, the job's output "
        "as the stack prints it, nvidia-smi watching the GPUs), classic (the dashboard: GPU "
        "grid, loss chart, bars, summary box) or plain (the job's lines only). tmux if "
        "omitted (`play` to a pipe or a file: plain).",
        autocompletion=completer(LAYOUTS),
    ),
]
IdleTimeLimitOption = Annotated[
    str | None,
    typer.Option(
        "-i",
        "--idle-time-limit",
        metavar="DURATION",
        help="Cap every pause at this long, as asciinema's -i does (2 or 2s, 500ms). "
        "No cap if omitted.",
    ),
]
TracesArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[RUN|TRACE|DIR]...",
        help="Bundled run names (see `llmsim list`), trace files or folders of traces. "
        "The bundled runs if omitted.",
        show_default=False,
        autocompletion=complete_runs,
    ),
]
