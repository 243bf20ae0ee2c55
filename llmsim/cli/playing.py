"""What `llmsim play` does with its options: check them, then play named runs or the endless
show (the bundled runs, then fresh ones made in the background, never the same run twice).

No typer here: both `llmsim.cli.play` (typer's command) and `llmsim.cli.quickplay` (the way
in without typer) call `run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llmsim.cli import params, report
from llmsim.cli.params import COLOR_MODES, MODEL_CHOICES, TIMESTAMP_MODES, choice
from llmsim.cli.stdio import require_stdout
from llmsim.errors import UsageError

if TYPE_CHECKING:
    from llmsim.player.options import PlayOptions


def run(
    traces: list[str] | None = None,
    *,
    speed: float = 1.0,
    once: bool = False,
    shuffle: bool = False,
    exit_after: str | None = None,
    exit_after_runs: int | None = None,
    start_at: str | None = None,
    seed: int | None = None,
    models: str | None = None,
    color: str = "auto",
    timestamps: str = "wall",
    layout: str | None = None,
    idle_time_limit: str | None = None,
) -> int:
    """Play as `llmsim play` was asked to; the exit status."""
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
        layout=params.layout(layout),  # None: the player's choice (tmux on a terminal, else plain)
        idle_time_limit=params.duration(idle_time_limit, "--idle-time-limit"),
    )
    which = None if models is None else choice(models, MODEL_CHOICES, "--models")
    if traces:
        if which is not None:
            raise UsageError(
                "--models chooses among the bundled and fresh runs; it does not "
                "apply to runs named on the command line"
            )
        return _play_named(params.resolve_traces(traces), options)
    return _play_endless(options, which)


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
