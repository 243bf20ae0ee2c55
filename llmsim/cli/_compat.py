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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmsim.generator.options import GenerateOptions, GeneratorError
from llmsim.trace.config import RunConfig

if TYPE_CHECKING:
    from llmsim.generator.catalogue import GpuSpec

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
