"""A torchtitan pretraining job's lines, launched by run_train.sh: rank 0's start-up, saves,
purges, periodic GC and profiler dumps, and the end of train()."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan.incidents import Failure
from llmsim.generator.stacks.common import crash, launch, nccl
from llmsim.generator.stacks.common.run import Readings, StackRun
from llmsim.generator.stacks.common.terminal import StackTerminal
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.torchtitan import lines as titan
from llmsim.generator.stacks.torchtitan.terminal import TERMINAL

PROFILE_FREQ: Final = 100  # [profiling] profile_freq of the shipped llama3 configs


class TitanRun(StackRun):
    """torchtitan's [rank0]: lines around the steps."""

    def init(self, ctx: Context) -> tuple[float, float, float]:
        """One node: run_train.sh, whose `set -x` shows its commands; several: the Slurm
        script's `srun torchrun` (LOGLEVEL=INFO, NCCL_DEBUG=WARN, the same rank-0 filter), node
        0's torchrun output on the console. Then Trainer.__init__."""
        if ctx.config.nodes == 1 and not ctx.attempt.elastic:
            ctx.init.lines(titan.run_train_sh(ctx), dt=0.05)
        launch.torchrun_start(ctx, info=ctx.agent_info)
        workers = ctx.clock.tick(float(ctx.rng.uniform(4.0, 10.0)))
        load0, _ = titan.init(
            ctx, lambda: nccl.init_lines(ctx, ctx.logger("init", "plain", rank=0))
        )
        return workers, load0, ctx.clock.t

    def collective(self, ctx: Context, failure: Failure, steps_done: int) -> crash.Collective:
        """FSDP2 reduce-scatters a block's gradients over the data-parallel shards."""
        return crash.world_collective(ctx, steps_done, gather=False)

    def recorded(self, ctx: Context, coll: crash.Collective) -> crash.Stack | None:
        """init_distributed turns the flight recorder on (TORCH_FR_BUFFER_SIZE =
        comm.trace_buf_size, 20000 by default): the failed collective's stack is known."""
        return crash.Stack(titan.RS_STACK)

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        log = titan.logger(ctx, "checkpoint")
        titan.save_start(log, step, last)
        ctx.clock.tick(seconds * 0.85)
        titan.gc_line(
            log, "GC collection invoked by checkpointer.", float(ctx.rng.uniform(0.02, 0.3))
        )
        if dropped is not None and not last:  # the purge thread works while the save ends
            titan.purge(log, ctx.checkpoint_path(dropped), seconds * 0.1)

    def pauses(self, ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        gc = (steps % ctx.plan.flags.gc_freq == 0) & (steps > 1)
        prof = _after_dump(ctx, steps)
        return np.where(gc, gc_seconds(ctx, steps), 0.0) + np.where(
            prof, dump_seconds(ctx, steps - 1), 0.0
        )

    def extras(
        self,
        ctx: Context,
        steps: npt.NDArray[np.int64],
        t_end: npt.NDArray[np.float64],
        lr: npt.NDArray[np.float64],
        step_time: npt.NDArray[np.float64],
        readings: Readings,
    ) -> None:
        log = titan.logger(ctx, "train")
        gc = ctx.plan.flags.gc_freq
        starts = t_end - step_time + 0.001
        for i in np.flatnonzero(_after_dump(ctx, steps)):
            # torch_profiler.step() ends the loop body of the profiled step (after its save
            # and validation); the dump counts towards the next logged step's time
            ctx.clock.t = float(starts[i])
            titan.profiler(
                log, int(steps[i]) - 1, float(dump_seconds(ctx, steps[i : i + 1] - 1)[0])
            )
            starts[i] = ctx.clock.t
        for i in np.flatnonzero((steps % gc == 0) & (steps > 1)):
            ctx.clock.t = float(starts[i])  # gc_handler.run(step) opens the step
            titan.gc_line(
                log,
                "Performing periodic GC collection",
                float(gc_seconds(ctx, steps[i : i + 1])[0]),
            )

    def finish(self, ctx: Context, runtime: float, train_loss: float) -> None:
        titan.finish(ctx, titan.logger(ctx, "train"))

    def close(self, ctx: Context) -> None:
        launch.torchrun_end(ctx, info=ctx.agent_info)

    def terminal(self) -> StackTerminal:
        """The shell around the job (stacks/torchtitan/terminal.py)."""
        return TERMINAL


RUN: Final = TitanRun()


def _after_dump(ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Steps that follow a profiled one (every profile_freq; not the step resumed from)."""
    before = steps - 1
    out: npt.NDArray[np.bool_] = (before % PROFILE_FREQ == 0) & (before > ctx.resume_step)
    return out


def _per_step(ctx: Context, steps: npt.NDArray[np.int64], salt: int) -> npt.NDArray[np.float64]:
    """A uniform draw per step that the step-time model and the printed line agree on."""
    x = steps.astype(np.uint64) * np.uint64(2654435761) + np.uint64(ctx.config.seed + salt)
    return ((x % np.uint64(10007)).astype(np.float64) + 0.5) / 10007.0


def gc_seconds(ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """How long the periodic GC takes at these steps."""
    return 0.03 + 0.22 * _per_step(ctx, steps, 1)


def dump_seconds(ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """How long the profiler's trace dump takes at these steps."""
    return 0.4 + 2.0 * _per_step(ctx, steps, 2)
