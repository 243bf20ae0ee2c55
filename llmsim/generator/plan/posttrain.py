"""Drawing a post-training run's own choices (PostSpec), and what the plan asks of them.

LoRA runs take the rank, alpha, dropout and target modules people configure (PEFT's defaults,
the all-linear of QLoRA recipes), QLoRA first where the bf16 base would crowd the card; DPO
trains adapters on one to eight GPUs or every weight on a node; GRPO generates `generations`
completions of each prompt with vLLM and scores them with rule-based rewards (TRL's
accuracy_reward and think_format_reward, verl's GSM8K/MATH scorers): rewards rise from what the
model already gets right towards what it can learn, and completion lengths grow on hard
reasoning sets and shrink a little on GSM8K, as published runs show.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.datasets import PREFERENCE_SETS, PROMPT_SETS, SftSet
from llmsim.generator.catalog.gpus import GpuSpec
from llmsim.generator.plan.choice import Choice
from llmsim.generator.plan.postspec import (
    ALL_LINEAR,
    ATTENTION,
    DEFAULT_TARGETS,
    LoraSpec,
    PostSpec,
    PostStyle,
    RewardFn,
    RolloutSpec,
)
from llmsim.generator.plan.profile import StackProfile
from llmsim.trace.vocab import Adapter, RunKind

# GPU counts of one-machine post-training runs (most are one card).
LORA_GPUS: Final = (1, 1, 1, 1, 2, 4, 8)
DPO_GPUS: Final = (1, 2, 4, 8, 8)
FULL_DPO_MAX: Final = 8.5e9  # models a DPO run may train in full on one node
MAX_POST_GPUS: Final = 64  # LoRA and DPO jobs: a few nodes at most
MAX_PROMPT: Final = 512  # TRL's max_prompt_length default, verl's data.max_prompt_length
# Sets whose answers are short arithmetic (lengths shrink a little) vs competition maths.
SHORT_ANSWERS: Final = frozenset({"openai/gsm8k"})


def _pick(rng: np.random.Generator, options: tuple[float, ...] | tuple[int, ...]) -> float:
    return float(options[int(rng.integers(0, len(options)))])


def draw(
    kind: RunKind, profile: StackProfile, spec: ModelSpec, gpu: GpuSpec, rng: np.random.Generator
) -> PostSpec | None:
    """The run's post-training choices (None for pretraining and full fine-tunes, drawing
    nothing: their random stream stays as it was)."""
    if kind == "lora":
        return _lora_run(spec, gpu, rng)
    if kind == "dpo":
        return _dpo_run(spec, gpu, rng)
    if kind == "grpo":
        assert profile.post_style is not None, f"{profile.name} runs no grpo"
        return _grpo_run(profile.post_style, spec, rng)
    return None


def _lora(spec: ModelSpec, qlora: bool, rng: np.random.Generator) -> LoraSpec:
    rank = int(_pick(rng, (8, 16, 16, 32, 64)))
    alpha = int(_pick(rng, (rank, 2 * rank, 2 * rank, 16)))
    u = float(rng.random())
    targets = ALL_LINEAR if u < 0.6 else ATTENTION if u < 0.8 else DEFAULT_TARGETS
    return LoraSpec(
        rank=rank,
        alpha=alpha,
        dropout=_pick(rng, (0.05, 0.05, 0.1, 0.0)),
        targets=targets,
        all_linear=targets == ALL_LINEAR and rng.random() < 0.7,
        double_quant=qlora and rng.random() < 0.75,
    )


def _qlora_first(spec: ModelSpec, gpu: GpuSpec, rng: np.random.Generator) -> bool:
    """QLoRA when the bf16 base would take much of the card, and often anyway."""
    crowded = 2.0 * param_count(spec) > 0.45 * gpu.memory_mib * 2**20
    return bool(rng.random() < (0.85 if crowded else 0.3))


def _lora_run(spec: ModelSpec, gpu: GpuSpec, rng: np.random.Generator) -> PostSpec:
    qlora = _qlora_first(spec, gpu, rng)
    lora = _lora(spec, True, rng)
    adapters: tuple[Adapter, ...] = ("qlora",) if qlora else ("lora", "qlora")
    lr = _pick(rng, (2e-4, 2e-4, 1e-4, 5e-5))
    return PostSpec(adapters, lora, None, 0.0, lr, None, merge=bool(rng.random() < 0.25))


def _dpo_run(spec: ModelSpec, gpu: GpuSpec, rng: np.random.Generator) -> PostSpec:
    full = gpu.cluster and param_count(spec) <= FULL_DPO_MAX and rng.random() < 0.4
    lora = _lora(spec, True, rng)
    if full:
        adapters: tuple[Adapter, ...] = ("none", "lora", "qlora")
        lr = _pick(rng, (5e-7, 1e-6, 1e-6))
    else:
        adapters = ("qlora",) if _qlora_first(spec, gpu, rng) else ("lora", "qlora")
        lr = _pick(rng, (5e-6, 5e-6, 1e-5, 5e-5))
    data = PREFERENCE_SETS[int(rng.integers(0, len(PREFERENCE_SETS)))]
    beta = _pick(rng, (0.1, 0.1, 0.05, 0.2))
    return PostSpec(adapters, lora, None, beta, lr, data.hub_id, merge=bool(rng.random() < 0.25))


def _capability(spec: ModelSpec) -> float:
    """0..1: how much of a maths set a model of this size gets right out of the box."""
    n = param_count(spec)
    return 1.0 / (1.0 + math.exp(-1.3 * (math.log(n) - math.log(2.5e9))))


def _rewards(
    style: PostStyle, spec: ModelSpec, data: SftSet, rng: np.random.Generator
) -> tuple[RewardFn, ...]:
    """Rule-based rewards: 1.0 for a correct answer (and TRL's format reward for a reasoning
    block); what a model gets right first follows its size and the set's difficulty."""
    easy = data.hub_id in SHORT_ANSWERS
    skill = _capability(spec) * (0.95 if easy else 0.62)
    start = float(np.clip(skill * rng.uniform(0.8, 1.05), 0.03, 0.85))
    room = (0.96 if easy else 0.8) - start
    end = float(np.clip(start + room * rng.uniform(0.45, 0.8), start + 0.04, 0.97))
    accuracy = RewardFn("accuracy_reward", 1.0, 0.0, 1.0, start, end)
    if style.old_log_prob:  # verl: one scorer for the data source, its `score`
        return (accuracy,)
    fmt0 = float(rng.uniform(0.02, 0.35))
    fmt = RewardFn("think_format_reward", 1.0, 0.0, 1.0, fmt0, float(rng.uniform(0.9, 0.99)))
    return (accuracy, fmt)


def _grpo_run(style: PostStyle, spec: ModelSpec, rng: np.random.Generator) -> PostSpec:
    data = PROMPT_SETS[int(rng.integers(0, len(PROMPT_SETS)))]
    max_completion = int(_pick(rng, style.max_completion))
    easy = data.hub_id in SHORT_ANSWERS
    len0 = (
        float(rng.uniform(0.2, 0.32) * max_completion) if not easy else float(rng.uniform(180, 300))
    )
    len0 = min(len0, 0.5 * max_completion)
    grow = float(rng.uniform(0.8, 0.95)) if easy else float(rng.uniform(1.3, 1.9))
    len1 = min(len0 * grow, 0.78 * max_completion)
    n = param_count(spec)
    tp = 1 if n < 4e9 else 2 if n < 12e9 else 4
    if style.colocated:  # TRL's vllm_tensor_parallel_size: 1 unless the weights crowd vLLM's share
        tp = 1 if n < 12e9 else 2
    rollout = RolloutSpec(
        generations=int(_pick(rng, style.generations)),
        prompt_len=data.mean_tokens,
        max_prompt=MAX_PROMPT,
        max_completion=max_completion,
        len_start=len0,
        len_end=len1,
        beta=_pick(rng, (0.04, 0.02, 0.01) if style.colocated else (0.001,)),
        rewards=_rewards(style, spec, data, rng),
        entropy_start=float(rng.uniform(0.3, 0.8)),
        gpu_memory_utilization=_pick(rng, style.gpu_memory_utilization),
        rollout_tp=tp,
    )
    lr = _pick(rng, (1e-6, 1e-6, 3e-6, 5e-7))
    return PostSpec(("none",), None, rollout, rollout.beta, lr, data.hub_id)


def whole_groups(per_step: int, accum: int, generations: int) -> int:
    """The accumulation nearest `accum` that makes the step's completions whole groups of
    `generations` (TRL and verl refuse a batch that splits a prompt's completions)."""
    unit = generations // math.gcd(per_step, generations)
    return max(unit, round(accum / unit) * unit)


def gpu_counts(choice: Choice, rng: np.random.Generator) -> list[int]:
    """Candidate GPU counts of a drawn post-training run, most likely first."""
    post = choice.post
    assert post is not None
    if post.rollout is not None and choice.profile.post_style is not None:
        counts = choice.profile.post_style.gpu_counts
    elif choice.kind == "dpo" and post.adapters[0] == "none":
        counts = (8,)
    else:
        counts = DPO_GPUS if choice.kind == "dpo" else LORA_GPUS
    first = int(_pick(rng, counts))
    larger = [g for g in (1, 2, 4, 8, 16, 32, 64) if g > first and g <= max(counts)]
    return [first, *larger]


def max_gpus(choice: Choice) -> int:
    """The largest job of its kind these stacks run: RL jobs a few nodes (verl up to 64 GPUs,
    TRL fewer), adapters and DPO a handful of nodes at most."""
    style = choice.profile.post_style
    if choice.post is not None and choice.post.rollout is not None and style is not None:
        return max(style.gpu_counts)
    return MAX_POST_GPUS


def seq_len(choice: Choice, rng: np.random.Generator) -> int:
    """Tokens of one training sequence: an SFT example (packed), a DPO pair (chosen and
    rejected, each up to half of it), a GRPO prompt and its completion."""
    post = choice.post
    assert post is not None
    if post.rollout is not None:
        return post.rollout.max_prompt + post.rollout.max_completion
    options = (2048, 2048, 4096) if choice.kind == "dpo" else (1024, 2048, 2048, 4096)
    fitting = [s for s in options if s <= choice.model.max_positions] or [1024]
    return int(_pick(rng, tuple(fitting)))


def target_tokens(choice: Choice, seq: int, rng: np.random.Generator) -> int:
    """Tokens of an optimizer step as post-training recipes size it."""
    post = choice.post
    assert post is not None
    if post.rollout is not None:
        prompts = _pick(
            rng,
            (32, 64, 64, 128)
            if choice.profile.post_style and choice.profile.post_style.colocated
            else (64, 128, 128, 256),
        )
        return int(prompts) * post.rollout.generations * seq
    if choice.kind == "dpo":
        return int(_pick(rng, (32, 64, 64, 128))) * seq
    return int(_pick(rng, (2**14, 2**15, 2**16, 2**16, 2**17)))
