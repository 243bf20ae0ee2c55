"""A TRL run as its console shows it: `accelerate launch` (its defaults warning on one GPU run
without a config file), the Trainer's shard bar, the trainer's dataset bars, PEFT's count, for
GRPO every rank's vLLM engine start-up, then the Trainer's dicts (the player's TRL dialect),
the final metrics dict and the script's last prints. Saves and evaluations print nothing at the
scripts' WARNING verbosity; a lost rank ends in torch.distributed.run's report, called in
process by accelerate (its frames head the traceback).

The metric keys (config.metric_keys) are TRL's: SFTTrainer's token accuracy, DPOTrainer's
log-probs and logits, GRPOTrainer's completion lengths, reward functions, importance sampling
and clip ratios; their values come from the step's sampled batch (plan/poststats.py), averaged
over the log window as TRL averages what it logs.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan.incidents import Failure
from llmsim.generator.stacks.common import crash, launch
from llmsim.generator.stacks.common.run import StepView
from llmsim.generator.stacks.common.trainer import shard_bars, train_metrics
from llmsim.generator.stacks.common.trainer_run import TrainerRun
from llmsim.generator.stacks.context import Context
from llmsim.generator.stacks.trl import lines, vllm
from llmsim.generator.stacks.trl.profile import script

F64 = npt.NDArray[np.float64]
SITE: Final = "/usr/local/lib/python3.12/dist-packages"
# accelerate 1.11.0: accelerate_cli.py:50 `args.func(args)`, launch.py:1222 (FSDP) / :1226
# (multi-GPU) `multi_gpu_launcher(args)`, :853 `distrib_run.run(args)`.
ACCELERATE_FRAMES: Final = (50, 1222, 1226, 853)


def _f32(x: F64) -> F64:
    out: F64 = x.astype(np.float32).astype(np.float64)
    return out


class TrlRun(TrainerRun):
    """TRL's scripts under accelerate launch."""

    def _ranks(self, ctx: Context) -> list[int]:
        """The ranks whose output reaches node 0's console."""
        return list(range(min(ctx.config.gpus, ctx.config.gpus_per_node)))

    def init(self, ctx: Context) -> tuple[float, float, float]:
        """Launch to the first step."""
        c = ctx.config
        if c.gpus == 1:
            lines.accelerate_defaults(ctx)
        workers = ctx.clock.tick(float(ctx.rng.uniform(4.0, 9.0)))  # imports in every process
        ranks = self._ranks(ctx)
        if c.kind == "grpo":
            vllm.platform(ctx, ranks)
        ctx.clock.tick(float(ctx.rng.uniform(0.7, 2.7)))  # the script's imports, the config
        load0, _ = shard_bars(ctx, ranks)  # every process loads (and quantises) the base
        if c.kind in ("lora", "dpo"):
            lines.dataset_bars(ctx)
            lines.trainable(ctx, ranks)
        if c.kind == "grpo":
            post = ctx.plan.choice.post
            assert post is not None and post.rollout is not None
            max_seqs = c.micro_batch * post.rollout.rollout_tp * c.grad_accum
            vllm.startup(ctx, ranks, max_seqs)
        ctx.clock.tick(float(ctx.rng.uniform(1.0, 3.0)))  # the Trainer's set-up, the first batch
        return workers, load0, ctx.clock.t

    def eval_begin(self, ctx: Context, step: int) -> None:
        """`***** Running Evaluation *****` is INFO: not shown."""

    def save(
        self, ctx: Context, step: int, seconds: float, last: bool, dropped: int | None
    ) -> None:
        """Saving and rotating log at INFO: not shown."""

    def finish(self, ctx: Context, runtime: float, train_loss: float) -> None:
        """train()'s last dict, then the script's prints."""
        metrics = train_metrics(ctx, runtime, train_loss)
        ctx.logger("train", "plain").info(str(metrics), dt=0.01)
        lines.script_end(ctx)

    def close(self, ctx: Context) -> None:
        """accelerate exits with its workers: nothing more."""

    def script_args(self, ctx: Context) -> str:
        """The script's arguments as a launcher would print them."""
        c = ctx.config
        return f"--model_name_or_path {c.hub_id or c.model} --output_dir {c.output_dir}"

    def metric_values(self, ctx: Context, view: StepView) -> dict[str, F64]:
        """TRL's keys of each step that no trace column holds."""
        kind = ctx.config.kind
        v = view.stats.values
        if kind == "lora":
            return {"mean_token_accuracy": v["token_accuracy"]}
        if kind == "dpo":
            return self._dpo(ctx, view)
        if kind == "grpo":
            return self._grpo(ctx, view)
        return {}

    @staticmethod
    def _dpo(ctx: Context, view: StepView) -> dict[str, F64]:
        """logps (sums over the answer's tokens, moving with the rewards) and logits (mean raw
        logits), float32 as TRL logs them."""
        c = ctx.config
        post = ctx.plan.choice.post
        beta = post.beta if post is not None else 0.1
        v = view.stats.values
        n = len(view.times)
        rng = np.random.default_rng([c.seed, 19, int(view.stats.steps[0])])
        base = np.random.default_rng([c.seed, 20])
        lc, lr = -float(base.uniform(180, 420)), -float(base.uniform(220, 520))
        logit = float(base.uniform(-1.2, 0.4))
        chosen = lc + v["chosen"] / beta + rng.normal(0.0, 25.0, n)
        rejected = lr + v["rejected"] / beta + rng.normal(0.0, 30.0, n)
        return {
            "logps/chosen": _f32(chosen),
            "logps/rejected": _f32(rejected),
            "logits/chosen": _f32(logit + rng.normal(0.0, 0.06, n)),
            "logits/rejected": _f32(logit + 0.05 + rng.normal(0.0, 0.06, n)),
        }

    @staticmethod
    def _grpo(ctx: Context, view: StepView) -> dict[str, F64]:
        v = view.stats.values
        post = ctx.plan.choice.post
        assert post is not None and post.rollout is not None
        n = len(view.times)
        out: dict[str, F64] = {
            "completions/min_length": v["len_min"],
            "completions/max_length": v["len_max"],
            "completions/clipped_ratio": v["clipped"],
            "completions/mean_terminated_length": v["term_mean"],
            "completions/min_terminated_length": v["term_min"],
            "completions/max_terminated_length": v["term_max"],
            "frac_reward_zero_std": v["frac_zero_std"],
            "sampling/sampling_logp_difference/mean": v["logp_diff_mean"],
            "sampling/sampling_logp_difference/max": v["logp_diff_max"],
            "sampling/importance_sampling_ratio/min": v["is_min"],
            "sampling/importance_sampling_ratio/mean": v["is_mean"],
            "sampling/importance_sampling_ratio/max": v["is_max"],
        }
        for i, fn in enumerate(post.rollout.rewards):
            out[f"rewards/{fn.name}/mean"] = v[f"fn{i}_mean"]
            out[f"rewards/{fn.name}/std"] = v[f"fn{i}_std"]
        for key in ("low_mean", "low_min", "high_mean", "high_max", "region_mean"):
            out[f"clip_ratio/{key}"] = np.zeros(n)  # one update per generation: on-policy
        return out

    def eval_metric_values(
        self, ctx: Context, step: int, stats: dict[str, float]
    ) -> dict[str, float]:
        """An evaluation's own keys."""
        c = ctx.config
        if c.kind == "lora":
            return {"eval_mean_token_accuracy": stats["token_accuracy"]}
        if c.kind == "dpo":
            post = ctx.plan.choice.post
            beta = post.beta if post is not None else 0.1
            base = np.random.default_rng([c.seed, 20])
            lc, lr = -float(base.uniform(180, 420)), -float(base.uniform(220, 520))
            logit = float(base.uniform(-1.2, 0.4))
            return {
                "eval_logps/chosen": float(np.float32(lc + stats["chosen"] / beta)),
                "eval_logps/rejected": float(np.float32(lr + stats["rejected"] / beta)),
                "eval_logits/chosen": float(np.float32(logit)),
                "eval_logits/rejected": float(np.float32(logit + 0.05)),
            }
        return {}

    # --- a lost rank: torch.distributed.run under accelerate

    def report(self, ctx: Context, failure: Failure) -> float:
        """The elastic agent's lines, then the traceback through accelerate's frames."""
        ctx.clock.tick(float(ctx.rng.uniform(0.3, 1.2)))
        ab = crash.aborts(ctx, failure)
        torch = f"{SITE}/torch/distributed"
        cli, fsdp, multi, run = ACCELERATE_FRAMES
        sharded = ctx.config.adapter == "none" and ctx.config.gpus > 1
        frames = [
            '  File "/usr/local/bin/accelerate", line 8, in <module>',
            "    sys.exit(main())",
            "             ^^^^^^",
            f'  File "{SITE}/accelerate/commands/accelerate_cli.py", line {cli}, in main',
            "    args.func(args)",
            f'  File "{SITE}/accelerate/commands/launch.py", line {fsdp if sharded else multi}, '
            "in launch_command",
            "    multi_gpu_launcher(args)",
            f'  File "{SITE}/accelerate/commands/launch.py", line {run}, in multi_gpu_launcher',
            "    distrib_run.run(args)",
            *launch.run_frames(ctx, torch)[2:],
        ]
        crash.torchrun_report(ctx, failure, ab, script(ctx.config.kind), False, frames)
        return ctx.clock.t


RUN: Final = TrlRun()
