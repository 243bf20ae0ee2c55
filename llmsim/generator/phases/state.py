"""What the train phase carries from one chunk of steps to the next, and across a restart."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from llmsim.generator.stacks.context import Attempt

F64 = npt.NDArray[np.float64]


@dataclass
class TrainState:
    """What carries from one chunk of steps to the next."""

    start: float  # t when this attempt's training started
    t: float  # t at the end of the last chunk
    step: int  # last completed step
    recent: F64 = field(default_factory=lambda: np.zeros(0))  # last step times (ETA)
    loss_sum: float = 0.0
    best_val: float = math.inf
    patience: int = 0
    kept: list[int] = field(default_factory=list)  # checkpoints on disk (rotation)
    attempt: Attempt = field(default_factory=Attempt)  # the launch of the job now running
    first: int = 0  # first step of this attempt (its slow warm-up step)
    attempt_start: float = 0.0  # t its training started (the Trainer's train_runtime)
    saved: dict[int, tuple[float, float, int]] = field(default_factory=dict)
    tokens_at: dict[int, int] = field(default_factory=dict)  # step -> tokens counted up to it
    # checkpoint step -> (t it was on disk, best validation loss, patience) for restarts
