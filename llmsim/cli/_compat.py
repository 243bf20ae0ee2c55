"""TEMPORARY ADAPTER — delete at integration (see /work/notes/report-CLI.md).

The command line is written against the target APIs of COMMON.md:

    from llmsim.generator import plan_run, write_trace, models, gpu_types   (GEN)
    from llmsim.player import play, export_cast                           (PLAYER)

Until those land, this module offers exactly those names and signatures over what the
branch has today (the generator's `build_config` shim, the player's `play(paths, options)`
and `export_cast(paths, output, cast.CastOptions)`). At integration, the lead replaces
`from llmsim.cli._compat import ...` by the real imports (five lines in `llmsim/cli/`) and
deletes this file. Nothing in here is meant to outlive that.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmsim.errors import InputError, UsageError
from llmsim.generator.options import GenerateOptions, GeneratorError
from llmsim.player.options import CastOptions, PlayOptions
from llmsim.trace.config import RunConfig

if TYPE_CHECKING:
    from llmsim.generator.catalogue import GpuSpec
    from llmsim.player.cast import CastOptions as OldCastOptions

Report = Callable[[str], None]

# ----------------------------------------------------------------- generator (GEN's target)


@dataclass(frozen=True)
class RunPlan:
    """ADAPTER: the target RunPlan's public part."""

    config: RunConfig
    estimated_bytes: int


@dataclass(frozen=True)
class ModelEntry:
    """ADAPTER: one catalogue entry as `models()` will return it."""

    name: str
    params: int
    invented: bool
    hub_id: str
    family: str


def models() -> tuple[ModelEntry, ...]:
    """ADAPTER: the model catalogue, in catalogue order."""
    from llmsim.generator.architecture import param_count
    from llmsim.generator.catalogue import MODELS, hub_id

    return tuple(
        ModelEntry(
            m.name, param_count(m), m.invented, "" if m.invented else hub_id(m.name), m.family
        )
        for m in MODELS
    )


def gpu_types() -> tuple[GpuSpec, ...]:
    """ADAPTER: the GPU catalogue (entries have .short .name .memory_mib .peak_tflops .tdp_w)."""
    from llmsim.generator.catalogue import GPUS

    return GPUS


def plan_run(options: GenerateOptions) -> RunPlan:
    """ADAPTER: `build_config`, plus `models=` (which the shim ignores) and a size estimate."""
    import secrets

    if options.seed is None:
        options = dataclasses.replace(options, seed=secrets.randbelow(2**31))
    # The shim knows no size before writing: 0 until GEN's plan estimates it (no refusal).
    return RunPlan(_config(options), estimated_bytes=0)


def _config(options: GenerateOptions) -> RunConfig:
    from llmsim.generator import build_config

    if options.model is not None or options.models in (None, "all"):
        return build_config(options)
    allowed = [m.name for m in models() if m.invented == (options.models == "invented")]
    order = np.random.default_rng([options.seed or 0, 99]).permutation(len(allowed))
    for i in order:  # the first model that fits the asked cluster
        try:
            return build_config(dataclasses.replace(options, model=allowed[int(i)]))
        except GeneratorError:
            continue
    raise GeneratorError(f"no {options.models} model fits the cluster asked for")


def write_trace(plan: RunPlan, path: Path, *, overwrite: bool = False) -> int:
    """ADAPTER: the shim's `write_trace(config, ...)`."""
    from llmsim.generator import write_trace as shim_write

    return shim_write(plan.config, path, overwrite=overwrite)


# -------------------------------------------------------------------- player (PLAYER's target)


def _expand(paths: Sequence[Path]) -> list[Path]:
    from llmsim.player.show import expand_paths

    return expand_paths(paths)


def _playlist(
    files: list[Path], options: PlayOptions, fresh: Iterator[Path] | None
) -> Iterator[Path]:
    yield from files
    if fresh is not None:
        yield from fresh
    while not options.once and fresh is None:
        yield from files


def play(
    paths: Sequence[Path],
    options: PlayOptions,
    fresh: Iterator[Path] | None = None,
    report: Report | None = None,
) -> int:
    """ADAPTER: `play(paths, options, fresh=, report=)` over today's `play(paths, options)`.

    Today's player neither takes `fresh` nor counts runs, so with either of them this plays
    one run per call (the terminal is set up again between runs).
    """
    from llmsim.player import play as old_play

    if fresh is None and options.exit_after_runs is None:
        return old_play(list(paths), options)
    deadline = None if options.exit_after is None else time.monotonic() + options.exit_after
    for count, path in enumerate(_playlist(_expand(paths), options, fresh), start=1):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return 0
        one = dataclasses.replace(options, once=True, exit_after=left, exit_after_runs=None)
        status = old_play([path], one)
        if status:
            return status
        if options.exit_after_runs is not None and count >= options.exit_after_runs:
            return 0
    return 0


def export_cast(
    paths: Sequence[Path], output: str, options: CastOptions, report: Report | None = None
) -> None:
    """ADAPTER: `export_cast(paths, output, options, report=)` over today's cast exporter;
    `.gif` goes through a temporary cast and agg, as PLAYER's exporter will."""
    from llmsim.player.cast import CastOptions as OldCastOptions
    from llmsim.player.cast import export_cast as old_export

    old = OldCastOptions(
        cols=options.cols,
        rows=options.rows,
        speed=options.speed,
        version=options.version,
        idle_time_limit=options.idle_time_limit,
        title=options.title,
        overwrite=options.overwrite,
        color=options.color,
        ascii=options.ascii,
    )
    if not output.endswith(".gif"):
        old_export(list(paths), output, old)
        return
    _export_gif(list(paths), Path(output), old, options.loop)


def _export_gif(paths: list[Path], target: Path, old: OldCastOptions, loop: bool) -> None:
    from llmsim.fileio import atomic_path, check_target
    from llmsim.player.cast import export_cast as old_export

    agg = shutil.which("agg", path=str(Path(sys.executable).parent)) or shutil.which("agg")
    if agg is None:
        raise UsageError("GIF export needs agg: pip install 'llmsim[gif]'")
    check_target(target, overwrite=old.overwrite)
    with tempfile.TemporaryDirectory() as tmp:
        cast = Path(tmp) / "run.cast"
        old_export(paths, str(cast), dataclasses.replace(old, overwrite=True))
        with atomic_path(target, overwrite=old.overwrite) as out:
            args = [agg, *([] if loop else ["--no-loop"]), str(cast), str(out)]
            proc = subprocess.run(args, capture_output=True, text=True, check=False)
            if proc.returncode:
                last = (proc.stderr.strip().splitlines() or ["agg failed"])[-1]
                raise InputError(f"cannot write {target}: {last}")
