"""A verl GRPO run as its driver's console shows it: the command, Ray, the TaskRunner's set-up,
the workers' model set-up (deduplicated by Ray), the validation before training, a `step:N -
key:value - ...` line and the tqdm bar after every step (the player's verl dialect), the
validations and checkpoints on their steps, the final validation metrics.

The metric keys (config.metric_keys) are verl's; their values come from the step's sampled
batch (plan/poststats.py) and the step's time split into verl's timers: generation (the
rollout workers' `generate_sequences`, reduced over ranks as float32), scoring, the old
log-probs and reference forwards, the advantage and the actor update; `timing_s/step` is the
step's time and `perf/throughput` its tokens over that time and the GPUs.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan import postcurves as pc
from llmsim.generator.stacks.common.run import StackRun, StepView
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.verl import lines
from llmsim.generator.stacks.verl.profile import task_pid, val_key
from llmsim.generator.stacks.verl.ray import Ray, started

F64 = npt.NDArray[np.float64]
GIB: Final = 1024**3
# Shares of a step's non-generation time by timer (FLOPs: the update runs forward, backward
# and the recomputed forward, 8 per parameter and token; the old log-probs and the reference
# one forward each, the reference slower for its offloaded parameters).
UPDATE, OLD_LOG_PROB, REF = 8.0, 2.0, 2.6


def _f32(x: F64) -> F64:
    out: F64 = x.astype(np.float32).astype(np.float64)
    return out


class VerlRun(StackRun):
    """verl's main_ppo on Ray."""

    def _ray(self, ctx: Context) -> Ray:
        c = ctx.config
        pids = tuple(ctx.worker_pid(r) for r in range(min(c.gpus, c.gpus_per_node)))
        return Ray(ctx, task_pid(c.step_prefix), pids)

    def init(self, ctx: Context) -> tuple[float, float, float]:
        """The command to the progress bar's first draw."""
        ray = self._ray(ctx)
        lines.command(ctx)
        ctx.clock.tick(float(ctx.rng.uniform(3.0, 7.0)))  # imports
        lines.ray_init(ctx)
        started(ctx)
        workers = ctx.clock.tick(float(ctx.rng.uniform(1.0, 3.0)))
        lines.task_start(ctx, ray)
        load0 = ctx.clock.t
        lines.workers_start(ctx, ray)
        ctx.clock.t = max(ctx.clock.t, load0 + ctx.plan.timings.load_s)
        lines.load_or_start(ctx, ray)
        self._validate_before(ctx, ray)
        return workers, load0, ctx.clock.t

    def _validate_before(self, ctx: Context, ray: Ray) -> None:
        """val_before_train: a validation, its metrics pprinted, and the step-0 eval row."""
        post = ctx.plan.choice.post
        assert post is not None and post.rollout is not None
        lines.validation(ctx, ray, ctx.resume_step)
        c = ctx.config
        score = pc.validation_share(
            post.rollout.rewards[0], ctx.resume_step, c.total_steps, ctx.rng
        )
        lines.metrics_pprint(ctx, ray, "Initial", val_key(post), score, "init")
        ctx.rows.add(
            ctx.clock.t,
            "eval",
            "eval",
            step=ctx.resume_step,
            epoch=ctx.resume_step // c.steps_per_epoch + 1,
            reward=score,
            elapsed=ctx.plan.timings.eval_batch_s,
            epoch_progress=ctx.resume_step / c.steps_per_epoch,
        )
        ctx.clock.tick(0.05)
        lines.progress_start(ctx, ray)

    def eval_begin(self, ctx: Context, step: int) -> None:
        """A validation step's prints before its metrics."""
        lines.validation(ctx, self._ray(ctx), step, "eval")

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        """_save_checkpoint's lines."""
        lines.save(ctx, self._ray(ctx), step, seconds)

    def finish(self, ctx: Context, runtime: float, train_loss: float) -> None:
        """`Final validation metrics` (the last step's validation) as pprint prints the str."""
        post = ctx.plan.choice.post
        assert post is not None and post.rollout is not None
        c = ctx.config
        rng = np.random.default_rng([c.seed, 15, 1_000_000 + c.total_steps])  # its eval row's
        score = pc.validation_share(post.rollout.rewards[0], c.total_steps, c.total_steps, rng)
        lines.metrics_pprint(ctx, self._ray(ctx), "Final", val_key(post), score, "train")

    def metric_values(self, ctx: Context, view: StepView) -> dict[str, F64]:
        """verl's keys of each step."""
        c, plan = ctx.config, ctx.plan
        post = plan.choice.post
        assert post is not None and post.rollout is not None
        v = view.stats.values
        n = len(view.times)
        rng = np.random.default_rng([c.seed, 17, int(view.stats.steps[0])])
        out: dict[str, F64] = {}
        out.update(self._seqlen(v))
        out.update(self._actor(ctx, view, rng))
        out[val_key(post)] = self._val(ctx, view)
        out["training/global_step"] = view.stats.steps.astype(np.float64)
        out["training/epoch"] = (view.epochs - 1).astype(np.float64)
        out.update(self._data(ctx, v))
        out.update(self._timing(ctx, view, rng, n))
        return out

    @staticmethod
    def _seqlen(v: dict[str, F64]) -> dict[str, F64]:
        lo, hi = np.round(v["seqlen_min"]), np.round(v["seqlen_max"])
        return {
            "global_seqlen/min": lo,
            "global_seqlen/max": hi,
            "global_seqlen/minmax_diff": hi - lo,
            "global_seqlen/balanced_min": np.round(v["seqlen_bmin"]),
            "global_seqlen/balanced_max": np.round(v["seqlen_bmax"]),
            "global_seqlen/mean": v["seqlen_mean"],
        }

    @staticmethod
    def _actor(ctx: Context, view: StepView, rng: np.random.Generator) -> dict[str, F64]:
        plan = ctx.plan
        post = plan.choice.post
        assert post is not None and post.rollout is not None
        v = view.stats.values
        n = len(view.times)
        stage = plan.fit.memory.stages[0]
        allocated = stage.allocated * rng.uniform(0.96, 1.0, n)
        cpu = 120.0 + 0.4 * view.stats.steps + rng.normal(0.0, 1.5, n)
        return {
            "actor/kl_coef": np.full(n, post.rollout.beta),
            "actor/pg_loss": v["pg_loss"],
            "actor/pg_clipfrac": v["pg_clipfrac"],
            "actor/ppo_kl": v["ppo_kl"],
            "actor/pg_clipfrac_lower": np.zeros(n),
            "perf/max_memory_allocated_gb": allocated,
            "perf/max_memory_reserved_gb": np.round(
                allocated * (1 + plan.fit.memory.fragmentation) * 512
            )
            / 512,
            "perf/cpu_memory_used_gb": cpu,
        }

    @staticmethod
    def _val(ctx: Context, view: StepView) -> F64:
        """The validation score on validation steps (NaN on the others): the eval row's."""
        c = ctx.config
        post = ctx.plan.choice.post
        assert post is not None and post.rollout is not None
        out = np.full(len(view.times), np.nan)
        for i, step in enumerate(view.stats.steps.tolist()):
            if view.eval_s[i] > 0:
                rng = np.random.default_rng([c.seed, 15, 1_000_000 + step])
                out[i] = pc.validation_share(post.rollout.rewards[0], step, c.total_steps, rng)
        return out

    @staticmethod
    def _data(ctx: Context, v: dict[str, F64]) -> dict[str, F64]:
        post = ctx.plan.choice.post
        assert post is not None and post.rollout is not None
        cap = float(post.rollout.max_completion)
        return {
            "critic/score/max": v["score_max"],
            "critic/score/min": v["score_min"],
            "critic/rewards/max": v["score_max"],
            "critic/rewards/min": v["score_min"],
            "critic/advantages/mean": v["adv_mean"],
            "critic/advantages/max": v["adv_max"],
            "critic/advantages/min": v["adv_min"],
            "critic/returns/mean": v["adv_mean"],
            "critic/returns/max": v["adv_max"],
            "critic/returns/min": v["adv_min"],
            "response_length/max": v["len_max"],
            "response_length/min": v["len_min"],
            "response_length/clip_ratio": v["clipped"],
            "response_length_non_aborted/mean": v["len_mean"],
            "response_length_non_aborted/max": np.minimum(v["len_max"], cap),
            "response_length_non_aborted/min": v["len_min"],
            "response_length_non_aborted/clip_ratio": v["clipped"],
            "response/aborted_ratio": np.zeros(len(v["len_max"])),
            "prompt_length/mean": v["prompt_mean"],
            "prompt_length/max": v["prompt_max"],
            "prompt_length/min": v["prompt_min"],
            "prompt_length/clip_ratio": np.zeros(len(v["len_max"])),
        }

    @staticmethod
    def _timing(ctx: Context, view: StepView, rng: np.random.Generator, n: int) -> dict[str, F64]:
        """The step's timers: they add up to `timing_s/step`, the step's time."""
        c = ctx.config
        share = view.stats.gen_share if view.stats.gen_share is not None else np.full(n, 0.4)
        step = view.times
        gen = step * share
        reward = rng.uniform(0.2, 0.9, n)
        adv = rng.uniform(0.03, 0.15, n)
        rest = np.maximum(step - gen - reward - adv - 0.4, 0.1)
        total = UPDATE + OLD_LOG_PROB + REF
        old, ref = rest * OLD_LOG_PROB / total, rest * REF / total
        misc = rng.uniform(0.1, 0.4, n)
        update = step - gen - reward - adv - old - ref - misc
        generate = _f32(gen - rng.uniform(0.3, 0.8, n))
        ranks = c.gpus
        top = max(1, int(0.1 * ranks)) / ranks
        tokens = view.tokens.astype(np.float64)
        response = view.stats.values["response_tokens"]
        frozen = c.params - (0 if c.tied_embeddings else c.vocab * c.hidden)
        mfu = 6.0 * frozen * tokens / (update * ranks * c.gpu_peak_tflops * 1e12)
        out = {
            "timing_s/start_profile": rng.uniform(2e-4, 9e-4, n),
            "timing_s/generate_sequences": generate,
            "timing_s/generation_timing/max": _f32(generate + rng.uniform(0.05, 0.6, n)),
            "timing_s/generation_timing/min": _f32(generate * rng.uniform(0.8, 0.95, n)),
            "timing_s/generation_timing/topk_ratio": np.full(n, float(np.float32(top))),
            "timing_s/gen": gen,
            "timing_s/reward": reward,
            "timing_s/old_log_prob": old,
            "timing_s/ref": ref,
            "timing_s/adv": adv,
            "timing_s/update_actor": update,
            "timing_s/step": step,
            "timing_s/testing": np.where(view.eval_s > 0, view.eval_s, np.nan),
            "timing_s/save_checkpoint": np.where(view.save_s > 0, view.save_s, np.nan),
            "timing_s/stop_profile": rng.uniform(1e-4, 4e-4, n),
            "timing_per_token_ms/gen": gen * 1000 / response,
            "timing_per_token_ms/ref": ref * 1000 / tokens,
            "timing_per_token_ms/adv": adv * 1000 / tokens,
            "timing_per_token_ms/update_actor": update * 1000 / tokens,
            "perf/total_num_tokens": tokens,
            "perf/time_per_step": step,
            "perf/throughput": tokens / (step * ranks),
            "perf/mfu/actor": mfu,
        }
        return out


RUN: Final = VerlRun()
