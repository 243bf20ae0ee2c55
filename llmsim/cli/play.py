"""`llmsim play`: its options as typer declares them; what it does is `llmsim.cli.playing`.

`llmsim.cli.quickplay` reads the same options without typer (the fast way to the first frame):
a change here is made there too, and tests/test_quickplay.py says so if it is not.
"""

from __future__ import annotations

from typing import Annotated, Final

import typer

from llmsim.cli import playing
from llmsim.cli.common import (
    IdleTimeLimitOption,
    LayoutOption,
    SpeedOption,
    StartAtOption,
    TracesArgument,
)
from llmsim.cli.params import COLOR_MODES, MODEL_CHOICES, TIMESTAMP_MODES, completer

EXAMPLES: Final = (
    "llmsim play",
    "llmsim play llama-3-8b-sft --once --speed 20",
    "llmsim play --shuffle --exit-after 2h10min",
    "llmsim play --models real --seed 42 --start-at train",
    "llmsim play --exit-after-runs 3 --speed 50 --color never | tail -n 20",
    "llmsim play llama-3-70b-pretrain --layout classic -i 2",
)


def play(
    traces: TracesArgument = None,
    speed: SpeedOption = 1.0,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Play each run once, then exit with status 0. Forever if omitted."
        ),
    ] = False,
    shuffle: Annotated[
        bool, typer.Option("--shuffle", help="A new random order every cycle (see --seed).")
    ] = False,
    exit_after: Annotated[
        str | None,
        typer.Option(
            "--exit-after",
            "--exit-after-time",  # genact's spelling
            metavar="DURATION",
            help="Stop after this much wall time and exit with status 0, e.g. 250ms, 10m or "
            "2h10min. Never if omitted.",
        ),
    ] = None,
    exit_after_runs: Annotated[
        int | None,
        typer.Option(
            "--exit-after-runs",
            "--exit-after-modules",  # genact's spelling
            metavar="N",
            help="Stop after N runs have played and exit with status 0. Never if omitted.",
        ),
    ] = None,
    start_at: StartAtOption = None,
    layout: LayoutOption = None,
    idle_time_limit: IdleTimeLimitOption = None,
    seed: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Seed of the fresh runs made after the bundled ones (the same seed gives the "
            "same sequence of runs) and of --shuffle. Random if omitted.",
        ),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            metavar="|".join(MODEL_CHOICES),
            help="With no run named: play only runs of real architectures, of invented ones, "
            "or both, bundled and fresh alike. Both if omitted.",
            autocompletion=completer(MODEL_CHOICES),
        ),
    ] = None,
    color: Annotated[
        str,
        typer.Option(
            metavar="|".join(COLOR_MODES),
            help="Colour: auto means on a terminal, unless NO_COLOR is set or TERM is dumb.",
            autocompletion=completer(COLOR_MODES),
        ),
    ] = "auto",
    timestamps: Annotated[
        str,
        typer.Option(
            metavar="|".join(TIMESTAMP_MODES),
            help="Log timestamps: wall starts each run at the current time, trace at the "
            "run's own recorded start; either way they advance with simulated time (ten times "
            "as fast as the clock at --speed 10) and never go backwards.",
            autocompletion=completer(TIMESTAMP_MODES),
        ),
    ] = "wall",
) -> None:
    """Play runs in the terminal with their original timing, forever.

    On a terminal, tmux's screen: the job's output as its stack prints it in one pane,
    nvidia-smi watching rank 0's node in another (--layout classic: the dashboard); when the
    output is not a terminal, the job's lines only. With no run named, the bundled runs play
    first (a small fine-tune opens), then freshly generated ones (made in the background into
    ~/.cache/llmsim/runs, the last 20 kept), so the same run never shows twice. Ctrl-C stops it (exit status 130).
    """
    status = playing.run(
        traces,
        speed=speed,
        once=once,
        shuffle=shuffle,
        exit_after=exit_after,
        exit_after_runs=exit_after_runs,
        start_at=start_at,
        seed=seed,
        models=models,
        color=color,
        timestamps=timestamps,
        layout=layout,
        idle_time_limit=idle_time_limit,
    )
    if status:
        raise typer.Exit(status)
