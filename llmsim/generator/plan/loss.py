"""Training and validation loss and gradient norm as functions of the global step.

Pretraining from scratch follows the Chinchilla fit L = E + A/N^alpha + B/D^beta at the tokens
seen (D = step x tokens per step), starting at ln(vocab) and falling steeply at first; a trace
shows a window late in that schedule, so its loss is the fit's value there. A continued
pretraining stage starts from the base model's loss on its own pretraining tokens, a little
above it on the new data, and settles. Fine-tunes start at 1.5-2.5 and drop at each epoch
boundary. Loss spikes come from the plan's episodes (grad norm first, then loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

# Chinchilla fit (Hoffmann et al. 2022): L = E + A / N^alpha + B / D^beta
CH_E, CH_A, CH_B, CH_ALPHA, CH_BETA = 1.69, 406.4, 410.7, 0.34, 0.28
NOISE_TAPS: Final = 6  # moving-average length of the (lightly autocorrelated) loss noise
LOSS_DECIMALS: Final = 4  # stacks print 4+ decimals; the trace stores what is shown
VAL_MIN, VAL_MAX = 1.012, 1.15  # fine-tune validation / train loss ratio
FT_DROP_DECAY: Final = 0.65  # each further epoch boundary drops the fine-tune loss by less


def chinchilla(params: float, tokens: F64 | float) -> F64:
    """The Chinchilla loss of `params` parameters after `tokens` tokens."""
    d = np.maximum(np.asarray(tokens, dtype=np.float64), 1.0)
    out: F64 = CH_E + CH_A / params**CH_ALPHA + CH_B / d**CH_BETA
    return out


@dataclass(frozen=True)
class Spike:
    """A loss spike: grad norm jumps at `step`, the loss rises from step + 1 and recovers."""

    step: int
    grad: float
    amplitude: float
    recover: int  # steps until ~5 % of the amplitude is left


@dataclass(frozen=True)
class LossShape:
    """Every number that shapes a run's loss curve (drawn once, in the plan)."""

    kind: str  # "scratch", "continued" or "finetune"
    params: float
    tokens_per_step: float
    vocab: int
    steps_per_epoch: int
    epochs: int
    start: float  # loss at step 0
    floor: float  # continued pretraining / fine-tune floor
    tau: float  # steps of the initial fall
    ft_drop: float
    val_gap: float  # pretraining: val/train - 1 (either side); fine-tune: the base gap
    val_follow: float
    val_creep: float
    sigma: float
    gn_floor: float
    gn_early: float
    gn_decay: float
    spikes: tuple[Spike, ...]


class LossModel:
    """A run's loss curve plus noise, evaluated on consecutive chunks of steps."""

    def __init__(self, shape: LossShape) -> None:
        self.s = shape
        self._tail = np.zeros(NOISE_TAPS - 1)
        kernel = 0.55 ** np.arange(NOISE_TAPS)
        self._kernel = kernel / np.sqrt((kernel**2).sum())

    def smooth(self, steps: F64) -> F64:
        """Expected training loss at these 1-based steps (no noise, no spikes)."""
        s = self.s
        if s.kind == "scratch":
            law = np.minimum(chinchilla(s.params, steps * s.tokens_per_step), math.log(s.vocab))
            out: F64 = law + (s.start - law) * np.exp(-steps / s.tau)
            return out
        if s.kind == "continued":
            cont: F64 = s.floor + (s.start - s.floor) * np.exp(-steps / s.tau)
            return cont
        return self._ft_base(steps) - self._ft_drops(steps)

    def _ft_base(self, steps: F64) -> F64:
        s = self.s
        out: F64 = s.floor + (s.start - s.floor) * np.exp(-steps / s.tau)
        return out + 0.35 * np.exp(-steps / 4.0)

    def _ft_drops(self, steps: F64) -> F64:
        s = self.s
        drops = np.zeros_like(steps)
        for e in range(1, s.epochs):
            after = np.maximum(steps - e * s.steps_per_epoch, 0.0)
            size = s.ft_drop * FT_DROP_DECAY ** (e - 1)
            drops += np.where(after > 0, size * (1 - np.exp(-after / 6.0)), 0.0)
        return drops

    def spike_bump(self, steps: F64) -> F64:
        """Extra loss from spikes at these steps."""
        out = np.zeros_like(steps)
        for sp in self.s.spikes:
            k = steps - (sp.step + 1)
            out += np.where(
                k >= 0, sp.amplitude * np.exp(-np.maximum(k, 0) / (sp.recover / 3)), 0.0
            )
        return out

    def losses(self, steps: F64, rng: np.random.Generator, decimals: int = LOSS_DECIMALS) -> F64:
        """Training loss at consecutive steps, rounded as printed (call chunk after chunk)."""
        white = rng.standard_normal(len(steps))
        full = np.concatenate([self._tail, white])
        noise = np.convolve(full, self._kernel, mode="valid")
        self._tail = full[len(full) - (NOISE_TAPS - 1) :]
        out = self.smooth(steps) + self.s.sigma * noise + self.spike_bump(steps)
        rounded: F64 = np.round(np.maximum(out, 0.05), decimals).astype(np.float64)
        return rounded

    def grad_norms(self, steps: F64, rng: np.random.Generator) -> F64:
        """Global gradient norm before clipping at these steps."""
        s = self.s
        base = s.gn_floor * (1.0 + s.gn_early * np.exp(-steps / s.gn_decay))
        g: F64 = base * np.exp(rng.normal(0.0, 0.12, len(steps)))
        for sp in s.spikes:
            k = steps - sp.step
            g = np.where(k == 0, sp.grad, g)
            g = np.where((k > 0) & (k <= 4), g * (1.0 + 2.0 * np.exp(-np.clip(k, 0, 4) / 1.5)), g)
        return g

    def validation(
        self,
        step: int,
        train_loss: float,
        rng: np.random.Generator,
        decimals: int | None = LOSS_DECIMALS,
    ) -> float:
        """Validation loss after `step`.

        Single-epoch pretraining: the model has not seen the training data either, so val sits
        within a few percent of the smooth train curve, either side. Fine-tunes: val sees only
        part of each epoch drop and creeps up late, 1-15 % above train.
        """
        s = self.s
        at = np.array([float(step)])
        smooth = float(self.smooth(at)[0]) + float(self.spike_bump(at)[0])
        if s.kind != "finetune":
            return _shown(smooth * (1.0 + s.val_gap) + float(rng.normal(0.0, 0.002)), decimals)
        held = float(self._ft_base(at)[0]) - s.val_follow * float(self._ft_drops(at)[0])
        late = max(0.0, step / s.steps_per_epoch - 1.0)
        raw = held * (1.0 + s.val_gap) + s.val_creep * (1.0 - math.exp(-late))
        val = raw + float(rng.normal(0.0, 0.003))
        return _shown(min(max(val, VAL_MIN * train_loss), VAL_MAX * train_loss), decimals)


def _shown(value: float, decimals: int | None) -> float:
    """A loss as the stack prints it: rounded, or the float of a float32 tensor (HF)."""
    if decimals is None:
        return float(np.float32(value))
    return round(value, decimals)
