"""verl 0.6.0 (`python3 -m verl.trainer.main_ppo`, Hydra + Ray) with vLLM 0.10.2 rollouts and FSDP
actor, reference and rollout workers on the same GPUs (its hybrid engine): GRPO with the KL
term in the actor's loss (`use_kl_loss=True`, `kl_loss_coef=0.001`, `low_var_kl`), as its
examples/grpo_trainer scripts run it. A step line every step, printed after the step's
validation (`test_freq`) and checkpoint (`save_freq`); the last step validates and saves too.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import Layout
from llmsim.generator.plan.postspec import PostSpec, PostStyle
from llmsim.generator.plan.profile import StackProfile
from llmsim.trace.vocab import RunKind
from llmsim.units import format_params

# verl 0.6.0 (2025-10-15; its setup.py says numpy<2 and ray[default]>=2.41); its docker images
# pair it with vLLM 0.10.x on torch 2.8.0, transformers 4.57.1.
ERA: Final = Era("0.6.0", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_486_400.0, ("ray",))
MAX_PARAMS: Final = 35e9
# ray_trainer.py fit(), metric_utils.py: the keys of a GRPO step without a critic, in the order
# they are inserted (timing_per_token_ms/* come from a set: their order is drawn per run).
SEQLEN: Final = (
    "global_seqlen/min",
    "global_seqlen/max",
    "global_seqlen/minmax_diff",
    "global_seqlen/balanced_min",
    "global_seqlen/balanced_max",
    "global_seqlen/mean",
)
ACTOR: Final = (
    "actor/entropy",
    "actor/kl_loss",
    "actor/kl_coef",
    "actor/pg_loss",
    "actor/pg_clipfrac",
    "actor/ppo_kl",
    "actor/pg_clipfrac_lower",
    "actor/grad_norm",
    "perf/mfu/actor",
    "perf/max_memory_allocated_gb",
    "perf/max_memory_reserved_gb",
    "perf/cpu_memory_used_gb",
    "actor/lr",
)
TRAINING: Final = ("training/global_step", "training/epoch")
_DATA_GROUPS: Final = (
    ("critic/score", ("mean", "max", "min")),
    ("critic/rewards", ("mean", "max", "min")),
    ("critic/advantages", ("mean", "max", "min")),
    ("critic/returns", ("mean", "max", "min")),
    ("response_length", ("mean", "max", "min", "clip_ratio")),
    ("response_length_non_aborted", ("mean", "max", "min", "clip_ratio")),
)
DATA: Final = (
    *(f"{group}/{stat}" for group, stats in _DATA_GROUPS for stat in stats),
    "response/aborted_ratio",
    "prompt_length/mean",
    "prompt_length/max",
    "prompt_length/min",
    "prompt_length/clip_ratio",
)
TIMING: Final = (
    "timing_s/start_profile",
    "timing_s/generate_sequences",
    "timing_s/generation_timing/max",
    "timing_s/generation_timing/min",
    "timing_s/generation_timing/topk_ratio",
    "timing_s/gen",
    "timing_s/reward",
    "timing_s/old_log_prob",
    "timing_s/ref",
    "timing_s/adv",
    "timing_s/update_actor",
    "timing_s/step",
    "timing_s/testing",  # validation steps only
    "timing_s/save_checkpoint",  # saving steps only
    "timing_s/stop_profile",
)
PER_TOKEN: Final = ("gen", "ref", "adv", "update_actor")
PERF: Final = ("perf/total_num_tokens", "perf/time_per_step", "perf/throughput")


def val_key(post: PostSpec | None) -> str:
    """The validation score's key: `val-core/{data_source}/reward/mean@1`."""
    source = post.dataset if post is not None and post.dataset else "openai/gsm8k"
    return f"val-core/{source}/reward/mean@1"


class VerlProfile(StackProfile):
    """What verl runs and how it reports."""

    def refusal(self, kind: RunKind, spec: ModelSpec) -> str | None:
        """GRPO runs only, up to ~35B on these clusters."""
        if kind != "grpo":
            return "verl runs here are GRPO runs: use --kind grpo (or --stack trl)"
        n = param_count(spec)
        if n > MAX_PARAMS:
            return (
                f"{spec.name} ({format_params(n)}) is too big for a verl GRPO run here "
                f"(up to {format_params(int(MAX_PARAMS))})"
            )
        return None

    def strategy(self, layout: Layout) -> str:
        """`FSDP FULL_SHARD over N ranks, vLLM rollout`."""
        return f"FSDP over {layout.dp} ranks (actor, ref), vLLM rollout"

    def log_interval(self, step_s: float) -> int | None:
        """Its console logger prints every step."""
        return 1

    def metric_keys(
        self, kind: RunKind, post: PostSpec | None, rng: np.random.Generator
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A GRPO step's keys (the validation score on validation steps), and step 0's."""
        per_token = tuple(
            f"timing_per_token_ms/{k}" for k in np.array(PER_TOKEN)[rng.permutation(4)]
        )
        keys = (*SEQLEN, *ACTOR, val_key(post), *TRAINING, *DATA, *TIMING, *per_token, *PERF)
        return keys, (val_key(post),)

    def step_prefix(self, rng: np.random.Generator) -> str:
        """The TaskRunner actor prints the metrics: Ray's `(TaskRunner pid=N) `."""
        return f"(TaskRunner pid={int(rng.integers(100_000, 3_900_000))}) "


def task_pid(prefix: str) -> int:
    """The TaskRunner's pid in a step prefix."""
    return int(prefix.removeprefix("(TaskRunner pid=").rstrip(") "))


PROFILE: Final = VerlProfile(
    name="verl",
    era=ERA,
    weight=0.08,
    entrypoint="verl.trainer.main_ppo",
    modes=((3, "full"),),
    checkpoint_pattern="global_step_{step}",
    checkpoints_under="{output_dir}",  # trainer.default_local_dir (the launch sets it)
    continued_pretraining=False,
    logs_first_step=True,
    evaluates_after_loop=True,  # is_last_step validates
    window_mean_loss=False,
    min_eval_batches=1,
    logs_after_pauses=True,
    rank_failures=False,
    export_source_pattern="{path}/actor (FSDP shards: verl.model_merger)",
    post_style=PostStyle(
        colocated=False,
        old_log_prob=True,
        kl_in_loss=True,
        gpu_memory_utilization=(0.6, 0.6, 0.5, 0.7),
        generations=(5, 8, 8, 16),
        max_completion=(1024, 1024, 2048, 4096),
        gpu_counts=(8, 8, 16, 32, 64),
        test_freq=5,
    ),
)
