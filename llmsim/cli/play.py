"""`llmsim play`: stream runs to the terminal with their original timing; endless fresh runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from llmsim.cli import params, report
from llmsim.cli.params import (
    COLOR_MODES,
    MODEL_CHOICES,
    TIMESTAMP_MODES,
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

if TYPE_CHECKING:
    from llmsim.player.options import PlayOptions

EXAMPLES: Final = (
    "llmsim play",
    "llmsim play llama-3-8b-sft --once --speed 20",
    "llmsim play traces/ --shuffle --exit-after 2h10min",
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
            metavar="DURATION",
            help="Stop after this much wall time and exit with status 0, e.g. 250ms, 10m or "
            "2h10min (genact's --exit-after-time). Never if omitted.",
        ),
    ] = None,
    exit_after_runs: Annotated[
        int | None,
        typer.Option(
            "--exit-after-runs",
            metavar="N",
            help="Stop after N runs have played and exit with status 0 (genact's "
            "--exit-after-modules). Never if omitted.",
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
    first (a small fine-tune opens), then freshly
    generated ones (made in the background into ~/.cache/llmsim/runs, the last 20 kept), so
    the same run never shows twice. Ctrl-C stops it (exit status 130).
    """
    require_stdout()  # it prints: say a closed stdout before any work
    from llmsim.player.options import PlayOptions

    options = PlayOptions(
        speed=params.speed(speed),
        once=once,
        shuffle=shuffle,
        seed=seed,
        exit_after=params.duration(exit_after, "--exit-after"),
        exit_after_runs=params.at_least(exit_after_runs, 1, "--exit-after-runs"),
        start_at=params.start_at(start_at),
        color=choice(color, COLOR_MODES, "--color"),
        timestamps=choice(timestamps, TIMESTAMP_MODES, "--timestamps"),
        layout=params.layout(layout),
        idle_time_limit=params.duration(idle_time_limit, "--idle-time-limit"),
    )
    which = None if models is None else choice(models, MODEL_CHOICES, "--models")
    if traces:
        if which is not None:
            raise UsageError(
                "--models chooses among the bundled and fresh runs; it does not "
                "apply to runs named on the command line"
            )
        status = _play_named(params.resolve_traces(traces), options)
    else:
        status = _play_endless(options, which)
    if status:
        raise typer.Exit(status)


def _play_named(paths: list[Path], options: PlayOptions) -> int:
    from llmsim.player import play as run_play

    return run_play(paths, options, report=report.warn)


def _bundled(which: str | None) -> tuple[list[Path], frozenset[int]]:
    """The bundled runs of the chosen kind of model, and the seeds of all bundled runs.

    Lively ones first: fine-tunes (a few seconds of set-up, then steps) before pretraining
    windows (minutes of set-up on hundreds of nodes), smaller clusters before larger.
    """
    from llmsim.bundled import bundled_traces
    from llmsim.trace import open_trace

    runs, seeds = [], set()
    for path in bundled_traces():
        config = open_trace(path).config
        seeds.add(config.seed)
        if which in (None, "all") or config.invented == (which == "invented"):
            runs.append((config.kind != "finetune", config.gpus, path.name, path))
    return [path for *_, path in sorted(runs)], frozenset(seeds)


def _play_endless(options: PlayOptions, which: str | None) -> int:
    """The bundled runs, then fresh ones made in the background, never the same twice."""
    from llmsim.fresh import FreshOptions, FreshRuns, cache_dir
    from llmsim.player import play as run_play

    runs, seeds = _bundled(which)
    enough = options.exit_after_runs is not None and options.exit_after_runs <= len(runs)
    if options.once or enough:
        return run_play(runs, options, report=report.warn)
    fresh_options = FreshOptions(seed=options.seed, models=which, skip_seeds=seeds)
    with FreshRuns(cache_dir(), fresh_options, report.warn, fallback=runs) as fresh:
        return run_play(runs, options, fresh=fresh, report=report.warn)
