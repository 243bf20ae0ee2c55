"""A Hugging Face Trainer run: FSDP through torchrun and the Trainer's `--fsdp`, or DeepSpeed ZeRO."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from llmsim.generator.stacks import Readings, deepspeed, fsdp, hf, launch, nccl
from llmsim.generator.stacks.context import Context


def script_args(ctx: Context) -> str:
    """The training script's arguments."""
    c = ctx.config
    ds = f" --deepspeed {deepspeed.CONFIG_FILE.format(stage=ctx.plan.fit.layout.zero_stage)}"
    return (
        f"--model_name_or_path {c.hub_id or c.model} --dataset_name {c.dataset} "
        f"--output_dir {c.output_dir} --bf16{ds if c.stack == 'hf-deepspeed' else ''}"
    )


class HfRun:
    """The Trainer's lines; DeepSpeed's engine lines when the stack is hf-deepspeed."""

    def init(self, ctx: Context) -> tuple[float, float, float]:
        c = ctx.config
        deep = c.stack == "hf-deepspeed"
        if deep:
            launch.deepspeed_start(ctx, hf.SCRIPT, script_args(ctx))
        else:
            launch.torchrun_start(ctx, info=c.nodes > 1)
        workers = ctx.clock.tick(float(ctx.rng.uniform(3.0, 8.0)))  # imports in every worker
        ranks = (
            nccl.printing_ranks(ctx) if not (deep and c.nodes > 1) else list(range(min(c.gpus, 64)))
        )
        if deep:
            for _ in ranks:
                ctx.logger("init", "deepspeed").info(
                    "Setting ds_accelerator to cuda (auto detect)",
                    "real_accelerator.py:260:get_accelerator",
                    dt=float(ctx.rng.uniform(0, 0.03)),
                )
        hf.process_warnings(ctx, ranks)
        config_file = deepspeed.CONFIG_FILE.format(stage=ctx.plan.fit.layout.zero_stage)
        hf.arguments_dump(ctx, config_file if deep else None)
        nccl.init_lines(ctx, ctx.init)
        cache = hf.cache_dir(ctx)
        hf.load_tokenizer(ctx, cache)
        hf.load_config(ctx, cache)
        load0, _ = hf.load_weights(ctx, cache)
        hf.prepare_data(ctx)
        hf.half_precision(ctx)
        if deep:
            deepspeed.engine_init(ctx)
        if ctx.resume_step:
            self._resume(ctx)
        hf.running_training(ctx)
        return workers, load0, ctx.clock.t

    def _resume(self, ctx: Context) -> None:
        c = ctx.config
        if c.stack == "hf":
            hf.resume_load(ctx)
        else:
            hf.transformers_log(ctx).info(
                f"Attempting to resume from {c.output_dir}/checkpoint-{ctx.resume_step}",
                "deepspeed.py:495",
                dt=0.2,
            )
        where = f"{c.output_dir}/checkpoint-{ctx.resume_step}"
        span = ctx.plan.timings.load_s
        start = ctx.clock.t
        ctx.rows.progress(
            start, span, "init", "load_checkpoint", "Loading checkpoint", 1, "steps", 1
        )
        if c.stack == "hf":
            fsdp.load(fsdp.logger(ctx, "init"), where, span)
        else:
            deepspeed.resume(ctx, where, span)
        ctx.clock.t = max(ctx.clock.t, start + span)

    def eval_begin(self, ctx: Context, step: int) -> None:
        hf.eval_header(ctx, hf.transformers_log(ctx, "eval"))

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        c = ctx.config
        where = f"{c.output_dir}/checkpoint-{step}"
        if c.stack == "hf":
            log = fsdp.logger(ctx, "checkpoint")
            fsdp.save_model(log, where, seconds * 0.25)
            fsdp.save_optimizer(log, where, seconds * 0.75)
        else:
            log = hf.transformers_log(ctx, "checkpoint")
            log.info(f"Saving model checkpoint to {where}", hf.AT["save"])
            ctx.clock.tick(seconds * 0.15)
            hf.save_pretrained(ctx, log, where)
            ds = ctx.logger("checkpoint", "deepspeed")
            deepspeed.save(ctx, ds, where, step)
            ctx.clock.tick(seconds * 0.85)
        if dropped is not None:
            hf.rotate(ctx, hf.transformers_log(ctx, "checkpoint"), dropped)

    def saved(self, ctx: Context, step: int, seconds: float) -> None:
        return None

    def pauses(self, ctx: Context, steps: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return np.zeros(len(steps))  # Python's own GC pauses are in the step noise

    def extras(
        self,
        ctx: Context,
        steps: npt.NDArray[np.int64],
        t_end: npt.NDArray[np.float64],
        lr: npt.NDArray[np.float64],
        step_time: npt.NDArray[np.float64],
        readings: Readings,
    ) -> None:
        if ctx.config.stack != "hf-deepspeed":
            return
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

    def finish(self, ctx: Context, runtime: float, train_loss: float, steps: int) -> None:
        log = hf.transformers_log(ctx, "train")
        hf.completed(ctx, log, runtime, train_loss, steps)

    def close(self, ctx: Context) -> None:
        if ctx.config.stack == "hf-deepspeed":
            launch.deepspeed_end(ctx)
        else:
            launch.torchrun_end(ctx, info=ctx.config.nodes > 1)
