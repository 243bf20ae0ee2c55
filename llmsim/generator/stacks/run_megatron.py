"""A Megatron-LM pretraining job (srun across nodes, torchrun on one)."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from llmsim.generator.stacks import launch, megatron, nccl
from llmsim.generator.stacks.context import Context

STRAGGLER_RANKS = 4  # --straggler-minmax-count


class MegatronRun:
    """Megatron's start-up dump, checkpoint lines, memory and straggler reports."""

    def init(self, ctx: Context) -> tuple[float, float, float]:
        c = ctx.config
        if c.launcher == "torchrun":
            launch.torchrun_start(ctx, info=False, entry="python3")
        workers = ctx.clock.tick(float(ctx.rng.uniform(8.0, 20.0)))  # imports, TE, apex
        megatron.arguments(ctx)

        def world() -> None:
            nccl.init_lines(ctx, ctx.init)
            nccl.group_lines(ctx, ctx.init, ((1, c.tp), (2, c.pp), (3, c.dp)))

        megatron.initialize(ctx, world)
        setup0 = ctx.clock.t
        megatron.model(ctx)
        load0 = ctx.clock.t
        if c.resume_step:
            megatron.load_checkpoint(ctx)
        megatron.datasets(ctx, (ctx.clock.t - setup0) * 1000)
        return workers, load0, ctx.clock.t

    def eval_begin(self, ctx: Context, step: int) -> None:
        return None

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        log = ctx.logger("checkpoint", "plain")
        if last:  # the final save comes after the loop: `[after training is done]` first
            megatron.finish(ctx, log)
        megatron.save_start(ctx, log, step)
        ctx.clock.tick(seconds)

    def saved(self, ctx: Context, step: int, seconds: float) -> None:
        megatron.timers(
            ctx, ctx.logger("checkpoint", "plain"), (("save-checkpoint", seconds * 1000),)
        )

    def pauses(self, ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        # --manual-gc --manual-gc-interval 100: a silent collection every 100 iterations
        return np.where(steps % 100 == 0, 0.35, 0.0)

    def extras(
        self,
        ctx: Context,
        steps: npt.NDArray[np.int64],
        t_end: npt.NDArray[np.float64],
        lr: npt.NDArray[np.float64],
        step_time: npt.NDArray[np.float64],
    ) -> None:
        c = ctx.config
        log = ctx.logger("train", "plain")
        first_log = c.resume_step + c.log_interval - (c.resume_step % c.log_interval)
        for i in np.flatnonzero(steps == first_log):
            ctx.clock.t = float(t_end[i])
            megatron.memory_report(ctx, log, int(steps[i]))
        if not ctx.plan.flags.log_straggler:
            return
        for i in np.flatnonzero(steps % c.log_interval == 0):
            ctx.clock.t = float(t_end[i])
            self._straggler(ctx, int(steps[i]), float(step_time[i]))

    def _straggler(self, ctx: Context, step: int, step_s: float) -> None:
        """StragglerDetector.report (megatron/core/utils.py) on rank 0."""
        c, rng = ctx.config, ctx.rng
        log = ctx.logger("train", "pylog", "megatron.core.utils")
        n = c.gpus
        culprit = next((e for e in ctx.plan.episodes if e.first_step <= step <= e.last_step), None)
        slow = culprit.gpu if culprit else int(rng.integers(0, n))
        ms = step_s * 1000
        top = float(c.gpu_max_clock_mhz)
        tf = ctx.plan.fit.throughput.flops_per_token * c.global_batch_tokens / (step_s * n * 1e12)
        low_clock = top * (1 - culprit.clock_drop) if culprit else top - 15 * rng.integers(1, 8)
        ranks = rng.integers(0, n, 8)
        tflops = tf / 3 * rng.uniform(0.97, 1.02, 8)
        order = np.argsort(tflops)
        if culprit:
            tflops[order[0]] = tf / 3 * (1 - culprit.slowdown)
            ranks[order[0]] = slow
        stamp = time.strftime("[%Y-%m-%d %H:%M:%S]", time.gmtime(c.start_time + ctx.clock.t))
        w = c.gpu_tdp_w * 1000
        log.info(
            f"{stamp} | MnRtt/Rnk: {ms * 0.995:.2f}ms/{ranks[1]} | MxRtt/Rnk: {ms:.2f}ms/{slow} | "
            f"MnPwr/Rnk: {w * rng.uniform(0.72, 0.8):.2f}W/{ranks[2]} | "
            f"MxPwr/Rnk: {w * rng.uniform(0.9, 0.98):.2f}W/{ranks[3]} | "
            f"MnTmp/Rnk: {rng.uniform(38, 46):.2f}C/{ranks[4]} | "
            f"MxTmp/Rnk: {rng.uniform(60, 68) + (culprit.heat if culprit else 0):.2f}C/{slow} | "
            f"MnUtl/Rnk: {rng.integers(92, 98):.2f}%/{slow} | MxUtl/Rnk: 100.00%/{ranks[5]} | "
            f"MnClk/Rnk: {low_clock:.2f}MHz/{slow} | MxClk/Rnk: {top:.2f}MHz/{ranks[6]} | "
            f"MnDRtt/Rnk: {rng.uniform(800, 2500):.2f}us/{ranks[7]} | "
            f"MxDRtt/Rnk: {rng.uniform(4000, 30000):.2f}us/{slow} | "
            f"MnEtpt/Rnk: {tflops[order[0]]:.2f}TF/{ranks[order[0]]} | "
            f"MxEtpt/Rnk: {tflops[order[-1]]:.2f}TF/{ranks[order[-1]]}"
        )
        bottom = " ".join(f"{tflops[order[i]]:.2f}TF/{ranks[order[i]]}," for i in range(4))
        top4 = " ".join(f"{tflops[order[-4 + i]]:.2f}TF/{ranks[order[-4 + i]]}," for i in range(4))
        log.info(f"^^^^ Bottom {STRAGGLER_RANKS} Ranks with lowest  Etpt(TF): {bottom}")
        log.info(f"^^^^ Top    {STRAGGLER_RANKS} Ranks with highest Etpt(TF): {top4}")

    def finish(self, ctx: Context, runtime: float, train_loss: float, steps: int) -> None:
        return None  # printed before the final save

    def close(self, ctx: Context) -> None:
        if ctx.config.launcher == "torchrun":
            launch.torchrun_end(ctx, info=False)
