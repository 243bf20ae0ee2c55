"""Software eras: the versions each stack's runs use, released together (one home per version)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.trace.vocab import Launcher, Stack

DAY: Final = 86_400.0


@dataclass(frozen=True)
class Era:
    """One coherent software set: the stack's own version and what it ran on.

    `released` is the unix time the newest package of the set was published; runs of this era
    start some weeks or months after it.
    """

    stack_version: str  # accelerate, DeepSpeed, Megatron core or torchtitan
    torch: str
    cuda: str
    nccl: str  # what the torch wheel pins (nvidia-nccl-cu12), printed by NCCL's init
    transformers: str  # "" where the stack does not use it
    released: float
    launchers: tuple[Launcher, ...]


# torch 2.8.0 pins CUDA 12.8 / NCCL 2.27.3, torch 2.9.x CUDA 12.8 / NCCL 2.27.5 (wheel metadata).
ERAS: Final[dict[Stack, Era]] = {
    # transformers 4.57.1 (2025-10-14), accelerate 1.11.0 (2025-10-20)
    # torchrun only: what the run prints (torch's OMP banner, which `accelerate launch` silences by
    # setting OMP_NUM_THREADS; torchrun's traceback) and FSDP through the Trainer's `--fsdp`
    "hf": Era("1.11.0", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_918_400.0, ("torchrun",)),
    # DeepSpeed 0.18.0 (2025-10-07) with the same transformers
    "hf-deepspeed": Era(
        "0.18.0", "2.8.0", "12.8", "2.27.3", "4.57.1", 1_760_400_000.0, ("deepspeed",)
    ),
    # Megatron core_v0.15.0 (2025-12-05) on torch 2.9.1 (2025-11-12); HF tokenizer via transformers
    "megatron": Era(
        "0.15.0", "2.9.1", "12.8", "2.27.5", "4.57.1", 1_764_892_800.0, ("torchrun", "srun")
    ),
    # torchtitan v0.2.0 (2025-10-17) on torch 2.9.0 (2025-10-15)
    "torchtitan": Era("0.2.0", "2.9.0", "12.8", "2.27.5", "", 1_760_659_200.0, ("torchrun",)),
}
