"""The learning-rate schedule: linear warm-up to lr_peak, then cosine decay to lr_min."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from llmsim.trace.config import RunConfig


def lr_at(config: RunConfig, steps: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Learning rate at 1-based optimizer steps (the single source of truth for `lr`)."""
    s = np.asarray(steps, dtype=np.float64)
    warm = max(1, config.warmup_steps)
    decay = max(1, config.total_steps - warm)
    progress = np.clip((s - warm) / decay, 0.0, 1.0)
    cosine = config.lr_min + (config.lr_peak - config.lr_min) * 0.5 * (
        1.0 + np.cos(np.pi * progress)
    )
    warmup = config.lr_peak * s / warm
    out: npt.NDArray[np.float64] = np.where(s <= warm, warmup, cosine)
    return out
