"""TRL 0.24.0 (with PEFT 0.17.1, bitsandbytes 0.48.1 and vLLM 0.10.2) on transformers 4.57.1 and
accelerate 1.11.0: post-training only. LoRA/QLoRA SFT on one to eight GPUs (DDP), DPO with
adapters or in full (FSDP through accelerate's config), GRPO in full with vLLM colocated on
every GPU (`vllm_mode="colocate"`: an engine per rank, 0.3 of its memory by default).

Its scripts run at the Trainer's default WARNING verbosity (`trl/scripts/{sft,dpo,grpo}.py`),
and `logging_first_step` stays False: the first step line is the first log window's.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.software import Era
from llmsim.generator.plan.layout import Layout, Sharding
from llmsim.generator.plan.postspec import PostSpec, PostStyle
from llmsim.generator.stacks.common.trainer_profile import TrainerProfile
from llmsim.trace.vocab import POST_TRAINING, RunKind
from llmsim.units import format_params

# TRL 0.24.0 (2025-10-16) pins transformers>=4.56.1 and, in its `vllm` extra, vllm==0.10.2 (built
# against torch 2.8.0); accelerate 1.11.0 (2025-10-20) is the newest package of the set.
ERA: Final = Era("0.24.0", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_918_400.0, ("accelerate",))
# Largest model of each kind a TRL run here trains (QLoRA holds a 70B on one 80 GB card).
MAX_PARAMS: Final[dict[RunKind, float]] = {"lora": 80e9, "dpo": 35e9, "grpo": 35e9}
SCRIPTS: Final[dict[RunKind, str]] = {"lora": "sft.py", "dpo": "dpo.py", "grpo": "grpo.py"}
# TRL's keys between `learning_rate` and `epoch` (sft_trainer.py:1121-1174; dpo_trainer.py:
# 1781-1806; grpo_trainer.py:1329-1779), eval ones prefixed `eval_`.
SFT_KEYS: Final = ("entropy", "num_tokens", "mean_token_accuracy")
DPO_KEYS: Final = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
    "logits/chosen",
    "logits/rejected",
)
GRPO_HEAD: Final = (
    "num_tokens",
    "completions/mean_length",
    "completions/min_length",
    "completions/max_length",
    "completions/clipped_ratio",
    "completions/mean_terminated_length",
    "completions/min_terminated_length",
    "completions/max_terminated_length",
)
GRPO_TAIL: Final = (
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    # vllm_importance_sampling_correction=True, the default with vLLM
    "sampling/sampling_logp_difference/mean",
    "sampling/sampling_logp_difference/max",
    "sampling/importance_sampling_ratio/min",
    "sampling/importance_sampling_ratio/mean",
    "sampling/importance_sampling_ratio/max",
    "kl",  # only with beta != 0 (GRPOConfig's default is 0.0; these runs set it)
    "entropy",
    "clip_ratio/low_mean",
    "clip_ratio/low_min",
    "clip_ratio/high_mean",
    "clip_ratio/high_max",
    "clip_ratio/region_mean",
)


def script(kind: RunKind) -> str:
    """The training script a run of `kind` launches (TRL's trl/scripts/<kind>.py, copied)."""
    return SCRIPTS.get(kind, "sft.py")


class TrlProfile(TrainerProfile):
    """What TRL runs and how it reports."""

    def refusal(self, kind: RunKind, spec: ModelSpec) -> str | None:
        """Post-training only, up to each kind's size."""
        if kind not in POST_TRAINING:
            return (
                "TRL runs here are post-training runs: use --kind lora, dpo or grpo "
                "(or an hf stack for full fine-tunes)"
            )
        n, limit = param_count(spec), MAX_PARAMS[kind]
        if n > limit:
            return (
                f"{spec.name} ({format_params(n)}) is too big for a TRL {kind} run here "
                f"(up to {format_params(int(limit))})"
            )
        return None

    def sharding(self, layout: Layout) -> Sharding:
        """A full run shards with FSDP (accelerate's fsdp config); adapters under DDP keep the
        whole base on each GPU (their memory is plan/postcost.py's)."""
        return "fsdp"

    def strategy(self, layout: Layout) -> str:
        """`FSDP FULL_SHARD over N ranks`."""
        return f"FSDP FULL_SHARD over {layout.dp} ranks"

    def metric_keys(
        self, kind: RunKind, post: PostSpec | None, rng: np.random.Generator
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The keys SFTTrainer, DPOTrainer and GRPOTrainer log, in their order."""
        if kind == "lora":
            return SFT_KEYS, tuple(f"eval_{k}" for k in SFT_KEYS)
        if kind == "dpo":
            return DPO_KEYS, tuple(f"eval_{k}" for k in DPO_KEYS)
        if kind == "grpo" and post is not None and post.rollout is not None:
            rewards = tuple(
                f"rewards/{fn.name}/{what}"
                for fn in post.rollout.rewards
                for what in ("mean", "std")
            )
            return (*GRPO_HEAD, *rewards, *GRPO_TAIL), ()
        return (), ()


PROFILE: Final = TrlProfile(
    name="trl",
    era=ERA,
    weight=0.24,
    entrypoint="sft.py",
    modes=((0, "full"), (3, "full")),  # DDP for adapters, FSDP for full runs; checkpointing on
    logs_first_step=False,
    post_style=PostStyle(
        colocated=True,
        old_log_prob=False,
        kl_in_loss=True,
        gpu_memory_utilization=(0.3, 0.3, 0.35, 0.4),
        generations=(8, 8, 16),
        max_completion=(256, 512, 1024, 1024, 2048),
        gpu_counts=(8, 8, 8, 16, 32),
        test_freq=0,
    ),
)
