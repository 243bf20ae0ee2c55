"""The four stacks' own lines: what each prints at start-up, around evaluations and checkpoints,
on the side of its steps, and at the end. The phases call a `StackRun`; the dialects in the
player print the step, eval and checkpoint rows themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from llmsim.generator.phases.telemetry import Reading
from llmsim.generator.stacks.context import Context, Ids

# The GPUs' readings at a time: what a stack that reports NVML figures reads then.
Readings = Callable[[float], Reading | None]

__all__ = ["Context", "Ids", "Readings", "StackRun", "for_stack"]


class StackRun(Protocol):
    """The lines one stack prints that are not step, eval or checkpoint rows."""

    def init(self, ctx: Context) -> tuple[float, float, float]:
        """Launch to the first step; returns (workers start, weight/checkpoint load start, end)."""
        ...

    def eval_begin(self, ctx: Context, step: int) -> None:
        """Lines before an evaluation pass."""
        ...

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        """Lines of a checkpoint save taking `seconds` (the checkpoint row follows them)."""
        ...

    def saved(self, ctx: Context, step: int, seconds: float) -> None:
        """Lines right after the checkpoint row (Megatron's save timer)."""
        ...

    def pauses(self, ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Seconds the stack spends inside these steps besides compute (GC, profiler dumps)."""
        ...

    def extras(
        self,
        ctx: Context,
        steps: npt.NDArray[np.int64],
        t_end: npt.NDArray[np.float64],
        lr: npt.NDArray[np.float64],
        step_time: npt.NDArray[np.float64],
        readings: Readings,
    ) -> None:
        """Side lines of a chunk of steps (reports, GC, profiler), at their times; `readings`
        gives the GPUs' telemetry, which the chunk's samples already hold."""
        ...

    def finish(self, ctx: Context, runtime: float, train_loss: float, steps: int) -> None:
        """The training script's last lines, before the export."""
        ...

    def close(self, ctx: Context) -> None:
        """The launcher's lines after everything."""
        ...


def for_stack(stack: str) -> StackRun:
    """The StackRun of a stack."""
    from llmsim.generator.stacks.run_hf import HfRun
    from llmsim.generator.stacks.run_megatron import MegatronRun
    from llmsim.generator.stacks.run_titan import TitanRun

    if stack == "megatron":
        return MegatronRun()
    if stack == "torchtitan":
        return TitanRun()
    return HfRun()
