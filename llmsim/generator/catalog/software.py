"""Software eras: a set of versions released together (each stack's profile names its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from llmsim.trace.vocab import Launcher

DAY: Final = 86_400.0
# torch 2.8.0 pins CUDA 12.8 / NCCL 2.27.3, torch 2.9.x CUDA 12.8 / NCCL 2.27.5 (wheel metadata).


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
