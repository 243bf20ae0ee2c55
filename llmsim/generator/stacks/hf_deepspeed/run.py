"""A Hugging Face Trainer run with DeepSpeed ZeRO, launched by the deepspeed runner: the engine's
set-up, partition loads, saves and step reports (hf_deepspeed/deepspeed.py) around the
Trainer's own lines."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.stacks.common import launch
from llmsim.generator.stacks.common.run import Readings
from llmsim.generator.stacks.common.terminal import StackTerminal
from llmsim.generator.stacks.common.trainer import AT, save_pretrained, transformers_log
from llmsim.generator.stacks.common.trainer_run import TrainerRun
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.hf_deepspeed import deepspeed
from llmsim.generator.stacks.hf_deepspeed.terminal import TERMINAL

MAX_START_LINES: Final = 64  # ranks whose `Setting ds_accelerator` reaches the merged srun log


class DeepSpeedRun(TrainerRun):
    """deepspeed (srun across nodes) + `--deepspeed ds_config_zeroN.json`."""

    def launch(self, ctx: Context) -> None:
        """The deepspeed runner, and launch.py on one node."""
        launch.deepspeed_start(ctx, ctx.profile.entrypoint, self.script_args(ctx))

    def worker_ranks(self, ctx: Context) -> list[int]:
        """Over srun every rank's stdout is merged: the first 64 ranks' start-up lines."""
        c = ctx.config
        return (
            list(range(min(c.gpus, MAX_START_LINES))) if c.nodes > 1 else super().worker_ranks(ctx)
        )

    def worker_start(self, ctx: Context, ranks: list[int]) -> None:
        """Each process detects its accelerator."""
        for _ in ranks:
            ctx.logger("init", "deepspeed").info(
                "Setting ds_accelerator to cuda (auto detect)",
                "real_accelerator.py:260:get_accelerator",
                dt=float(ctx.rng.uniform(0, 0.03)),
            )

    def deepspeed_config(self, ctx: Context) -> str:
        """ds_config_zeroN.json."""
        return deepspeed.CONFIG_FILE.format(stage=ctx.plan.fit.layout.zero_stage)

    def extra_args(self, ctx: Context) -> str:
        """--deepspeed with its config file."""
        return f" --deepspeed {self.deepspeed_config(ctx)}"

    def engine(self, ctx: Context) -> None:
        """deepspeed.initialize as the Trainer calls it."""
        deepspeed.engine_init(ctx)

    def resume_announce(self, ctx: Context, where: str) -> None:
        """The integration names the checkpoint the engine loads."""
        transformers_log(ctx).info(f"Attempting to resume from {where}", "deepspeed.py:495", dt=0.2)

    def resume_load(self, ctx: Context, where: str, seconds: float) -> None:
        """The engine reads its ZeRO partitions back."""
        deepspeed.resume(ctx, seconds)

    def save_checkpoint(self, ctx: Context, where: str, step: int, seconds: float) -> None:
        """The Trainer's save_pretrained, then the engine's partitions."""
        log = transformers_log(ctx, "checkpoint")
        log.info(f"Saving model checkpoint to {where}", AT["save"])
        ctx.clock.tick(seconds * 0.15)
        save_pretrained(ctx, log, where)
        deepspeed.save(ctx.logger("checkpoint", "deepspeed"), where, step)
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
        """The engine's step report and ThroughputTimer line every steps_per_print steps."""
        c = ctx.config
        mem = ctx.plan.fit.memory.stages[0]
        allocated = mem.weights + mem.grads + mem.optimizer + mem.buffers
        for i in np.flatnonzero(steps % deepspeed.STEPS_PER_PRINT == 0):
            ctx.clock.t = float(t_end[i]) - 0.002  # inside engine.step(), before the Trainer logs
            log = ctx.logger("train", "deepspeed")
            deepspeed.step_report(ctx, log, int(steps[i]), float(lr[i]), 0)
            current = c.global_batch / float(step_time[i])
            running = deepspeed.noisy(ctx.rng, current, 0.004)
            deepspeed.throughput(
                ctx, log, int(steps[i]), running, current, allocated, mem.allocated
            )

    def close(self, ctx: Context) -> None:
        """launch.py's lines when the workers exit."""
        launch.deepspeed_end(ctx)

    def terminal(self) -> StackTerminal:
        """The shell around the job (stacks/hf_deepspeed/terminal.py)."""
        return TERMINAL


RUN: Final = DeepSpeedRun()
