"""A Hugging Face Trainer run with DeepSpeed ZeRO, launched by the deepspeed runner: DeepSpeed's
import and process-group lines, ZeRO-3's init context, the engine's set-up, partition loads,
saves and step reports (hf_deepspeed/deepspeed.py) around the Trainer's own lines."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.stacks.common import launch, nccl
from llmsim.generator.stacks.common.run import Readings
from llmsim.generator.stacks.common.terminal import StackTerminal
from llmsim.generator.stacks.common.trainer import AT, save_pretrained, transformers_log
from llmsim.generator.stacks.common.trainer_run import TrainerRun
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.hf_deepspeed import deepspeed
from llmsim.generator.stacks.hf_deepspeed.terminal import TERMINAL


class DeepSpeedRun(TrainerRun):
    """deepspeed (srun across nodes) + `--deepspeed ds_config_zeroN.json`."""

    def launch(self, ctx: Context) -> None:
        """The deepspeed runner, and launch.py on one node."""
        launch.deepspeed_start(ctx, ctx.profile.entrypoint, self.script_args(ctx))

    def worker_start(self, ctx: Context, ranks: list[int]) -> None:
        """Each process imports deepspeed."""
        deepspeed.imported(ctx, ranks)

    def process_group(self, ctx: Context, ranks: list[int]) -> None:
        """`training_args.should_log` sets the devices up first thing: accelerate has DeepSpeed
        start torch.distributed, which passes each process's device (comm/torch.py), so NCCL
        sets its communicator up right there, before the script's first line."""
        deepspeed.init_distributed(ctx)
        nccl.init_lines(ctx, ctx.init)

    def deepspeed_config(self, ctx: Context) -> str:
        """ds_config_zeroN.json."""
        return deepspeed.CONFIG_FILE.format(stage=ctx.plan.fit.layout.zero_stage)

    def extra_args(self, ctx: Context) -> str:
        """--deepspeed with its config file."""
        return f" --deepspeed {self.deepspeed_config(ctx)}"

    def model_context(self, ctx: Context, ranks: list[int]) -> None:
        """ZeRO-3 builds the model inside zero.Init."""
        if ctx.plan.fit.layout.zero_stage == 3:
            deepspeed.zero_init(ctx, ranks)

    def model_created(self, ctx: Context) -> None:
        """Leaving zero.Init."""
        if ctx.plan.fit.layout.zero_stage == 3:
            deepspeed.model_created(ctx)

    def engine(self, ctx: Context) -> None:
        """deepspeed.initialize as the Trainer calls it."""
        deepspeed.engine_init(ctx)

    def resume_announce(self, ctx: Context, where: str) -> None:
        """The integration names the checkpoint the engine loads."""
        transformers_log(ctx).info(f"Attempting to resume from {where}", "deepspeed.py:495", dt=0.2)

    def resume_load(self, ctx: Context, where: str, seconds: float) -> None:
        """The engine reads its ZeRO partitions back."""
        deepspeed.resume(ctx, where, ctx.resume_step, seconds)

    def save_checkpoint(self, ctx: Context, where: str, step: int, seconds: float) -> None:
        """The Trainer's save_pretrained (ZeRO-3 gathers the 16-bit weights for it), then the
        engine's partitions."""
        log = transformers_log(ctx, "checkpoint")
        log.info(f"Saving model checkpoint to {where}", AT["save"])
        ctx.clock.tick(seconds * 0.15)
        save_pretrained(ctx, log, where)
        stage = ctx.plan.fit.layout.zero_stage
        deepspeed.save(ctx.logger("checkpoint", "deepspeed"), where, step, stage)
        ctx.clock.tick(seconds * 0.85)

    def extras(
        self,
        ctx: Context,
        steps: npt.NDArray[np.int64],
        t_end: npt.NDArray[np.float64],
        lr: npt.NDArray[np.float64],
        step_time: npt.NDArray[np.float64],
        readings: Readings,
    ) -> None:
        """Inside engine.step(), before the Trainer's loss dict: the engine's step report when
        its global step reaches a multiple of steps_per_print, and the ThroughputTimer's line
        when the timer's own count does (it counts from this process's first step)."""
        c = ctx.config
        mem = ctx.plan.fit.memory.stages[0]
        allocated = mem.weights + mem.grads + mem.optimizer + mem.buffers
        first = ctx.resume_step + 1
        timer = steps - first + 1
        every = deepspeed.STEPS_PER_PRINT
        for i in np.flatnonzero((steps % every == 0) | (timer % every == 0)):
            ctx.clock.t = float(t_end[i]) - 0.002
            log = ctx.logger("train", "deepspeed")
            step = int(steps[i])
            if step % every == 0:
                deepspeed.step_report(ctx, log, step, float(lr[i]), 0)
            if timer[i] % every == 0:
                current = c.global_batch / float(step_time[i])
                running = deepspeed.running_average(ctx, steps, step_time, step, first)
                deepspeed.throughput(
                    ctx, log, int(timer[i]), running, current, allocated, mem.allocated
                )

    def close(self, ctx: Context) -> None:
        """launch.py's lines when the workers exit."""
        launch.deepspeed_end(ctx)

    def terminal(self) -> StackTerminal:
        """The shell around the job (stacks/hf_deepspeed/terminal.py)."""
        return TERMINAL


RUN: Final = DeepSpeedRun()
