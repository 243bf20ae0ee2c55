"""The expected course of a post-training run, step by step: rewards, lengths, KL, entropy,
DPO margins. The phases sample around these means (phases/poststats.py); a stack that reports
a number before the first step (verl's validation at step 0) reads them too.

Shapes follow published runs: GRPO rewards rise from what the model gets right out of the box
and flatten (a saturating exponential over roughly a third of the run), the KL to the reference
starts at 0 and grows, the policy's entropy falls slowly, completion lengths drift from their
first to their last mean; DPO margins open from 0 while the chosen answers' rewards drift
down more slowly than the rejected ones'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan.postspec import RewardFn, RolloutSpec

F64 = npt.NDArray[np.float64]
RISE: Final = 0.3  # of the run's steps: the time constant of the rewards' rise
KL_RISE: Final = 0.45
VAL_GAP: Final = (-0.04, 0.02)  # test-set accuracy against the training batches'


def progress(steps: npt.ArrayLike, total: int, share: float = RISE) -> F64:
    """0 at step 1, rising to ~1 - exp(-1/share) at the last step."""
    s = np.asarray(steps, dtype=np.float64)
    tau = max(1.0, share * total)
    out: F64 = 1.0 - np.exp(-(s - 1.0) / tau)
    return out


def reward_share(fn: RewardFn, steps: npt.ArrayLike, total: int) -> F64:
    """Share of completions earning `fn`'s top value at each step."""
    f = progress(steps, total) / (1.0 - math.exp(-1.0 / RISE))
    out: F64 = fn.start + (fn.end - fn.start) * np.clip(f, 0.0, 1.0)
    return out


def mean_length(rollout: RolloutSpec, steps: npt.ArrayLike, total: int) -> F64:
    """Mean completion tokens at each step."""
    f = np.asarray(steps, dtype=np.float64) / max(1, total)
    out: F64 = rollout.len_start + (rollout.len_end - rollout.len_start) * np.clip(f, 0.0, 1.0)
    return out


def kl(beta: float, steps: npt.ArrayLike, total: int) -> F64:
    """The policy's KL to the reference: 0 before the first update, then growing (a smaller
    coefficient lets it grow further)."""
    top = 0.004 + 0.0004 / max(beta, 1e-4)  # beta 0.04: 0.014; verl's 0.001: 0.4... capped
    top = min(top, 0.06)
    out: F64 = top * progress(steps, total, KL_RISE)
    return out


def entropy(start: float, steps: npt.ArrayLike, total: int) -> F64:
    """Mean token entropy of the completions: falling slowly as the policy sharpens."""
    out: F64 = start * (1.0 - 0.35 * progress(steps, total, 0.6))
    return out


def validation_share(fn: RewardFn, step: int, total: int, rng: np.random.Generator) -> float:
    """A validation pass's accuracy at `step` (0: before training): the test set runs a little
    below or above the training batches."""
    share = float(reward_share(fn, max(step, 1), total)) + float(rng.uniform(*VAL_GAP))
    return float(np.clip(share, 0.0, 1.0))


@dataclass(frozen=True)
class DpoShape:
    """A DPO run's course: the margin it opens, how the chosen rewards drift, its speed."""

    margin_end: float  # mean margin (rewards/margins) late in the run
    chosen_drift: float  # rewards/chosen late in the run (negative: it drifts down too)
    spread: float  # per-pair spread of the margins, late in the run
    tau_share: float

    @classmethod
    def draw(cls, beta: float, rng: np.random.Generator) -> DpoShape:
        """A run's shape: beta sets the scale of the rewards (they are beta x log-ratios)."""
        scale = beta / 0.1
        margin = float(rng.uniform(0.6, 2.2)) * scale
        return cls(
            margin_end=margin,
            chosen_drift=margin * float(rng.uniform(-0.6, 0.3)),
            spread=margin * float(rng.uniform(0.7, 1.1)) + 0.3 * scale,
            tau_share=float(rng.uniform(0.15, 0.35)),
        )

    def at(self, steps: npt.ArrayLike, total: int) -> tuple[F64, F64, F64]:
        """(mean margin, mean chosen reward, per-pair spread) at each step."""
        f = progress(steps, total, self.tau_share)
        spread: F64 = self.spread * np.sqrt(f) + 1e-3
        return self.margin_end * f, self.chosen_drift * f, spread
