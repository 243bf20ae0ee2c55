"""What a post-training run is besides its model: adapters, preference pairs, rollouts, rewards.

A LoRA, DPO or GRPO run is drawn before it is laid out (`PostSpec`, on the run's Choice):
the adapters it would train (LoRA rank, alpha, target modules; QLoRA's 4-bit base) in the order
an engineer falls back to them when memory is short, DPO's beta, and for GRPO the completions
per prompt, the prompt and completion lengths and how they move, the reward functions with
their ranges and the KL coefficient. How a stack runs such a job (generation colocated with
training or resharded to it, which forward passes it adds) is its profile's `PostStyle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.trace.vocab import Adapter

# PEFT's `target_modules="all-linear"` on a Llama/Qwen/Mistral decoder: every nn.Linear of a
# layer (lm_head excluded), in the order the layer holds them.
ALL_LINEAR: Final = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# PEFT's default for llama/qwen2/mistral (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
DEFAULT_TARGETS: Final = ("q_proj", "v_proj")
ATTENTION: Final = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class LoraSpec:
    """PEFT's LoraConfig as the run sets it."""

    rank: int
    alpha: int
    dropout: float
    targets: tuple[str, ...]  # module names, in the layer's order
    all_linear: bool  # given as target_modules="all-linear"
    double_quant: bool  # QLoRA: bnb_4bit_use_double_quant


@dataclass(frozen=True)
class RewardFn:
    """One reward function of a GRPO run: its name as TRL logs it, its weight, the values it
    gives (`lo`..`hi`), and the share of completions that earn `hi` at the first step and once
    the policy has learned what it can."""

    name: str
    weight: float
    lo: float
    hi: float
    start: float
    end: float


@dataclass(frozen=True)
class RolloutSpec:
    """A GRPO run's generation: completions per prompt and their lengths, and its rewards."""

    generations: int  # completions per prompt (TRL's num_generations, verl's rollout.n)
    prompt_len: int  # mean prompt tokens (chat template included)
    max_prompt: int
    max_completion: int
    len_start: float  # mean completion tokens at the first step
    len_end: float  # ... at the last (reasoning tasks grow, GSM8K-style ones shrink a little)
    beta: float  # KL coefficient (TRL's beta, verl's kl_loss_coef); 0: no reference model
    rewards: tuple[RewardFn, ...]
    entropy_start: float  # mean token entropy of the policy's completions at the first step
    gpu_memory_utilization: float  # what vLLM may take of each GPU
    rollout_tp: int  # tensor parallelism of each vLLM engine

    @property
    def reward_range(self) -> tuple[float, float]:
        """The lowest and highest total (weighted) reward."""
        lo = sum(min(f.weight * f.lo, f.weight * f.hi) for f in self.rewards)
        hi = sum(max(f.weight * f.lo, f.weight * f.hi) for f in self.rewards)
        return lo, hi


@dataclass(frozen=True)
class PostStyle:
    """How a stack runs a post-training job (its profile's)."""

    colocated: bool  # vLLM lives beside training on every GPU for the whole run (TRL colocate)
    old_log_prob: bool  # a forward pass recomputes the rollout's log-probs (verl)
    kl_in_loss: bool  # the KL term is in the actor's loss (needs a reference forward)
    gpu_memory_utilization: tuple[float, ...]  # what its recipes give vLLM
    generations: tuple[int, ...]  # completions per prompt its recipes use
    max_completion: tuple[int, ...]
    gpu_counts: tuple[int, ...]  # GPUs its RL jobs run on
    test_freq: int  # validation every this many steps (0: none, TRL's eval_strategy "no")


@dataclass(frozen=True)
class PostSpec:
    """A post-training run's own choices."""

    adapters: tuple[Adapter, ...]  # the adapters tried, in order: the first that fits trains
    lora: LoraSpec | None
    rollout: RolloutSpec | None  # GRPO only
    beta: float  # DPO's beta (GRPO: rollout.beta)
    lr: float  # peak learning rate (LoRA's are higher than a full fine-tune's)
    dataset: str | None  # the preference or prompt set (a LoRA SFT run's is the schedule's)
    merge: bool = False  # the export merges the adapters into the base (else saves them alone)
