"""What a user may ask of the generator (GenerateOptions) and the error for impossible asks."""

from __future__ import annotations

from dataclasses import dataclass


class GeneratorError(ValueError):
    """Options that no run can satisfy. The message is one line, meant for the user as it is."""


@dataclass(frozen=True)
class GenerateOptions:
    """Options of one generated run; None means "draw a plausible value from the seeded rng"."""

    seed: int | None = None
    model: str | None = None
    gpus: int | None = None
    gpu_type: str | None = None
    kind: str | None = None  # "pretrain" | "finetune"
    epochs: int | None = None
    steps_per_epoch: int | None = None
    duration: float | None = None  # target simulated seconds of the whole run
    start_time: float | None = None  # unix seconds of t = 0
