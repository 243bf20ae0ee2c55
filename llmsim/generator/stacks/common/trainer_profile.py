"""What the Hugging Face Trainer's runs have in common, whether FSDP or DeepSpeed shards them.

The Trainer fine-tunes models up to ~80B and runs short continued-pretraining stages of models
up to ~15B (a pretraining run from scratch is Megatron's or torchtitan's); it prints the step's
loss as its log window's mean and the validation loss as the float of a float32 tensor, and its
multi-node launch recipes set LOGLEVEL=INFO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.plan.profile import StackProfile
from llmsim.trace.vocab import POST_TRAINING, RunKind
from llmsim.units import format_params

FINETUNE_MAX: Final = 80e9
PRETRAIN_MAX: Final = 15e9
# What people type for --logging_steps, and for --eval_steps / --save_steps (HF's defaults are
# 500; ratios below 1 are allowed too, these runs use whole steps)
TYPED_LOGGING: Final = (1, 5, 10)
TYPED_EVERY: Final = (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


@dataclass(frozen=True, kw_only=True)
class TrainerProfile(StackProfile):
    """The Trainer's facts and rules; the FSDP and DeepSpeed profiles add their sharding."""

    entrypoint: str = "train.py"  # the example-style training script the runs launch
    checkpoint_pattern: str = "checkpoint-{step}"  # the Trainer's PREFIX_CHECKPOINT_DIR
    checkpoints_under: str = "{output_dir}"  # --output_dir holds the checkpoints
    continued_pretraining: bool = True
    val_float32: bool = True  # eval_loss is the float of a float32 tensor

    def refusal(self, kind: RunKind, spec: ModelSpec) -> str | None:
        """Models too big for the Trainer's fine-tunes or continued pretraining; post-training
        runs are TRL's (its trainers subclass the Trainer and print their own keys)."""
        if kind in POST_TRAINING:
            return f"{kind} runs here are TRL's or verl's: use --stack trl (or verl for grpo)"
        limit = FINETUNE_MAX if kind == "finetune" else PRETRAIN_MAX
        n = param_count(spec)
        if n > limit:
            what = "fine-tunes" if kind == "finetune" else "continued pretraining"
            return (
                f"{spec.name} ({format_params(n)}) is too big for {what} with the HF Trainer "
                f"here (up to {format_params(int(limit))}); use --stack megatron"
            )
        return None

    def log_interval(self, step_s: float) -> int:
        """--logging_steps: 1, 5 or 10, whichever prints about every 12 seconds."""
        return _nearest(TYPED_LOGGING, 12.0 / step_s)

    def typed_cadences(
        self, log: int, every_eval: int, every_save: int, total: int
    ) -> tuple[int, int, int]:
        """--logging_steps, --eval_steps and --save_steps as typed: the logging value not above
        the rule's, the evaluation value nearest its interval (not past the run's end), saves
        as often or half as often."""
        logging = max(v for v in TYPED_LOGGING if v <= max(1, log))
        fits = [v for v in TYPED_EVERY if v <= total] or [1]
        ev = _nearest(tuple(fits), float(every_eval))
        save = 2 * ev if every_save >= 2 * every_eval and 2 * ev in TYPED_EVERY else ev
        return logging, ev, save

    def launch_env(self, nodes: int) -> Mapping[str, str]:
        """Multi-node launches log torchrun's agent at INFO."""
        return {"LOGLEVEL": "INFO"} if nodes > 1 else {}


def _nearest(values: tuple[int, ...], x: float) -> int:
    """The value nearest `x` on a log scale."""
    return min(values, key=lambda v: abs(math.log(v / max(x, 1e-9))))
