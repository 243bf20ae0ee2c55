"""A Megatron-LM pretraining job's lines (srun across nodes, torchrun on one): the argument dump,
initialisation, model and data set-up, checkpoint lines, memory and straggler reports, and the
gradient bucket its ranks wait on when one is lost."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan.incidents import Failure
from llmsim.generator.stacks.common import crash, launch, nccl, teardown
from llmsim.generator.stacks.common.run import Reading, Readings, StackRun
from llmsim.generator.stacks.common.terminal import StackTerminal
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.megatron import lines as megatron
from llmsim.generator.stacks.megatron.terminal import TERMINAL


class MegatronRun(StackRun):
    """Megatron's start-up dump, checkpoint lines, memory and straggler reports."""

    def init(self, ctx: Context) -> tuple[float, float, float]:
        c = ctx.config
        if c.launcher == "torchrun":
            launch.torchrun_start(ctx, info=ctx.agent_info)
        workers = ctx.clock.tick(float(ctx.rng.uniform(8.0, 20.0)))  # imports, TE, apex
        megatron.arguments(ctx)

        def world() -> None:
            nccl.init_lines(ctx, ctx.init)
            nccl.group_lines(ctx, ctx.init, ((1, c.tp), (2, c.pp), (3, c.dp)))

        megatron.initialize(ctx, world)
        setup0 = ctx.clock.t
        megatron.model(ctx)
        load0 = ctx.clock.t
        if ctx.resume_step:
            megatron.load_checkpoint(ctx)
        megatron.datasets(ctx, (ctx.clock.t - setup0) * 1000)
        return workers, load0, ctx.clock.t

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        log = ctx.logger("checkpoint", "plain")
        if last:  # the final save comes after the loop: `[after training is done]` first
            megatron.finish(ctx, log)
        megatron.save_start(ctx, log, step)
        ctx.clock.tick(seconds)

    def eval_begin(self, ctx: Context, step: int) -> None:
        """The post-training validation runs evaluate() verbosely; in-loop ones do not."""
        if step == ctx.config.total_steps:
            megatron.evaluating(ctx, ctx.logger("eval", "plain"))

    def finish(self, ctx: Context, runtime: float, train_loss: float) -> None:
        """pretrain() returns without destroying the process group: each node's local rank 0
        warns at exit (common/teardown.py)."""
        teardown.destroy_warnings(ctx, nccl.printing_ranks(ctx))

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
        readings: Readings,
    ) -> None:
        c = ctx.config
        log = ctx.logger("train", "plain")
        first_log = ctx.resume_step + c.log_interval - (ctx.resume_step % c.log_interval)
        for i in np.flatnonzero(steps == first_log):
            ctx.clock.t = float(t_end[i])
            megatron.memory_report(ctx, log, int(steps[i]))
        if not ctx.plan.flags.log_straggler:
            return
        for i in np.flatnonzero(steps % c.log_interval == 0):
            ctx.clock.t = float(t_end[i])
            self._straggler(ctx, int(steps[i]), float(step_time[i]), readings(ctx.clock.t))

    def _straggler(self, ctx: Context, step: int, step_s: float, now: Reading | None) -> None:
        """StragglerDetector.report (megatron/core/utils.py) on rank 0. Power, temperature,
        utilisation and clock are what NVML gives each rank at the report, as nvidia-smi shows
        them then: integers (power in mW, labelled W), the extremes and their ranks."""
        c, rng = ctx.config, ctx.rng
        stamped = ctx.logger("train", "pylog-stamped", "megatron.core.utils")  # f"{now} | ..."
        log = ctx.logger("train", "pylog", "megatron.core.utils")
        n = c.gpus
        culprit = next((e for e in ctx.plan.episodes if e.slows(step)), None)
        # the culprit is the slowest rank; its clock and heat show in the readings themselves
        worst = [culprit.gpu] * 2 if culprit else [int(r) for r in rng.integers(0, n, 2)]
        slow = worst[0]
        ms = step_s * 1000
        top = float(c.gpu_max_clock_mhz)
        tf = ctx.plan.fit.throughput.flops_per_token * c.global_batch_tokens / (step_s * n * 1e12)
        ranks = rng.integers(0, n, 8)  # the extremes of each reading
        tflops = tf / 3 * rng.uniform(0.97, 1.02, 8)  # et_flops: not tracing backward (amp 3)
        order = np.argsort(tflops)
        flops_ranks = rng.integers(0, n, 8)
        if culprit:
            tflops[order[0]] = tf / 3 * (1 - culprit.slowdown)
            flops_ranks[order[0]] = slow
        stall = next(
            (
                f
                for f in ctx.plan.incidents.transients
                if f.kind == "dataloader_stall" and step - c.log_interval < f.step <= step
            ),
            None,
        )  # the rank whose batch came late has the longest get_batch time of the window
        data_ms = stall.seconds * 1000 if stall else float(rng.uniform(25, 60))
        data_rank = stall.gpu if stall else worst[1]
        nvml = _nvml(ctx, now, top)
        stamped.info(
            f"| MnRtt/Rnk: {ms * 0.995:.2f}ms/{ranks[1]} | MxRtt/Rnk: {ms:.2f}ms/{slow} | "
            f"{nvml}"
            # get_batch time in ms (_min_max's `o_dt.min_btime = _ValueWithRank(..., "ms")`)
            f"MnDRtt/Rnk: {rng.uniform(5, 20):.2f}ms/{ranks[7]} | "
            f"MxDRtt/Rnk: {data_ms:.2f}ms/{data_rank} | "
            f"MnEtpt/Rnk: {tflops[order[0]]:.2f}TF/{flops_ranks[order[0]]} | "
            f"MxEtpt/Rnk: {tflops[order[-1]]:.2f}TF/{flops_ranks[order[-1]]}"
        )
        # the Bottom/Top entries are built without a unit (utils.py report)
        ends = [f"{tflops[j]:.2f}/{flops_ranks[j]}," for j in order]
        bottom, top4 = " ".join(ends[:4]), " ".join(ends[-4:])
        log.info(f"^^^^ Bottom {megatron.STRAGGLER_MINMAX} Ranks with lowest  Etpt(TF): {bottom}")
        log.info(f"^^^^ Top    {megatron.STRAGGLER_MINMAX} Ranks with highest Etpt(TF): {top4}")

    def close(self, ctx: Context) -> None:
        """torchrun's agent after the workers exit (srun prints nothing)."""
        if ctx.config.launcher == "torchrun":
            launch.torchrun_end(ctx, info=ctx.agent_info)

    def collective(self, ctx: Context, failure: Failure, steps_done: int) -> crash.Collective:
        """The distributed optimizer reduce-scatters a gradient bucket over its data-parallel
        group (its own process group: a rank's place in it is (rank // tp) % dp)."""
        c, rng = ctx.config, ctx.rng
        groups = megatron.bucket_plan(ctx, 0)  # node 0's ranks are on the first stage
        numel = sum(n for _, n in groups[int(rng.integers(0, len(groups)))])
        bucket = megatron.padded_bucket(ctx, numel)
        per_step = 6 + 2 * c.grad_accum * max(1, c.pp - 1)
        pg = f"PG ID {3 + int(rng.integers(0, 4))} PG GUID {7 + c.pp}"
        seq = crash.sequence(ctx, steps_done, per_step)
        return crash.Collective(
            "_REDUCE_SCATTER_BASE", bucket, bucket // max(1, c.dp), seq, pg, c.tp, c.dp
        )

    def terminal(self) -> StackTerminal:
        """The shell around the job (stacks/megatron/terminal.py)."""
        return TERMINAL


def _nvml(ctx: Context, now: Reading | None, top: float) -> str:
    """The report's power/temperature/utilisation/clock fields: minimum and maximum over the
    ranks of the readings at the report, each with its rank."""
    if now is None:  # no sample yet (a report within the first seconds): the nominal figures
        n = ctx.config.gpus
        now = Reading(
            np.full(n, 100.0, np.float32),
            np.full(n, 40.0, np.float32),
            np.full(n, 0.8 * ctx.config.gpu_tdp_w, np.float32),
            np.full(n, top, np.float32),
        )
    # nvidia-smi shows whole watts; NVML's milliwatts carry the part it rounded away
    mw = np.round(now.power.astype(np.float64) * 1000 + ctx.rng.uniform(-499, 499, len(now.power)))
    fields = []
    for name, values, unit in (
        ("Pwr", mw, "W"),
        ("Tmp", np.round(now.temp), "C"),
        ("Utl", np.round(now.util), "%"),
        ("Clk", np.round(now.clock), "MHz"),
    ):
        lo, hi = int(np.argmin(values)), int(np.argmax(values))
        fields.append(
            f"Mn{name}/Rnk: {values[lo]:.2f}{unit}/{lo} | Mx{name}/Rnk: {values[hi]:.2f}{unit}/{hi} | "
        )
    return "".join(fields)


RUN: Final = MegatronRun()
