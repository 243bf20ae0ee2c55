"""Training and validation loss, gradient norm and loss spikes as functions of the step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmsim.trace.config import RunConfig

F64 = npt.NDArray[np.float64]

# Chinchilla fit (Hoffmann et al. 2022): L = E + A / N^alpha + B / D^beta
CH_E, CH_A, CH_B, CH_ALPHA, CH_BETA = 1.69, 406.4, 410.7, 0.34, 0.28
NOISE_TAPS = 6  # moving-average length of the (lightly autocorrelated) loss noise
LOSS_DECIMALS = 4  # trainers print the loss to 4 decimals; the trace stores what is shown
# Validation / train ratio: a few percent to ~15 % (REALISM); soft-capped on the smooth curve,
# then clipped against the train loss shown at the same step (which carries the step noise).
VAL_RATIO_FLOOR, VAL_RATIO_SPAN = 1.01, 0.135
VAL_MIN, VAL_MAX = 1.012, 1.15
FT_DROP_DECAY = 0.65  # each further epoch boundary drops the fine-tune loss by less


@dataclass(frozen=True)
class Spike:
    """A loss spike: grad norm jumps at `step`, the loss rises from step + 1 and recovers."""

    step: int
    grad: float
    amplitude: float
    recover: int  # steps until ~5 % of the amplitude is left


class LossModel:
    """Deterministic loss curve of one run plus its noise and spikes, evaluated chunk by chunk."""

    def __init__(self, config: RunConfig, rng: np.random.Generator) -> None:
        self.c = config
        self.pretrain = config.kind == "pretrain"
        self.ln_vocab = math.log(config.vocab)
        big = config.global_batch_tokens / 4e6
        self.sigma = float(np.clip(0.022 / math.sqrt(max(big, 0.05)), 0.01, 0.03))
        self.sigma *= float(rng.uniform(0.85, 1.15))
        self.start = self.ln_vocab + float(rng.uniform(0.02, 0.25))
        self.s0 = float(np.clip(0.3 * config.warmup_steps, 12.0, 150.0))
        self.gn_floor = float(rng.uniform(0.18, 0.32))
        self.gn_early = float(rng.uniform(3.0, 7.0) if self.pretrain else rng.uniform(0.8, 2.0))
        self.gn_decay = float(max(8.0, 0.6 * config.warmup_steps))
        spe = config.steps_per_epoch
        # fine-tune shape
        self.ft_start = float(rng.uniform(1.5, 2.5))
        self.ft_floor = self.ft_start * float(rng.uniform(0.55, 0.72))
        self.ft_tau = max(5.0, 0.35 * spe)
        self.ft_drop = self.ft_floor * float(rng.uniform(0.06, 0.12))
        self.val_gap = float(rng.uniform(0.025, 0.06))
        self.val_follow = float(rng.uniform(0.35, 0.6))  # share of an epoch drop val sees
        self.val_creep = float(rng.uniform(0.01, 0.04)) if not self.pretrain else 0.0
        self.spikes = self._plan_spikes(rng)
        self._white_tail = np.zeros(NOISE_TAPS - 1)
        self._kernel = 0.55 ** np.arange(NOISE_TAPS)
        self._kernel /= np.sqrt((self._kernel**2).sum())

    def _plan_spikes(self, rng: np.random.Generator) -> tuple[Spike, ...]:
        total = self.c.total_steps
        lo = int(max(2 * self.c.warmup_steps, 6 * self.s0, 0.1 * total, 40))
        hi = total - 60
        if hi <= lo:
            return ()
        n = min(int(rng.poisson(total / 1500)), 3 + total // 5000)
        steps = np.sort(rng.choice(np.arange(lo, hi), size=min(n, hi - lo), replace=False))
        out: list[Spike] = []
        for s in steps:
            if out and s - out[-1].step < 80:
                continue
            out.append(
                Spike(
                    int(s),
                    float(rng.uniform(2.5, 8.0)),
                    float(rng.uniform(0.2, 0.5)),
                    int(rng.integers(20, 51)),
                )
            )
        return tuple(out)

    # --- noise-free curves -------------------------------------------------------------
    def smooth(self, steps: F64) -> F64:
        """Expected training loss at these 1-based steps (no noise, no spikes)."""
        if self.pretrain:
            d = steps * self.c.global_batch_tokens
            law = CH_E + CH_A / self.c.params**CH_ALPHA + CH_B / d**CH_BETA
            law = np.minimum(law, self.ln_vocab)
            out: F64 = law + (self.start - law) * np.exp(-steps / self.s0)
            return out
        return self._ft_base(steps) - self._ft_drops(steps)

    def _ft_base(self, steps: F64) -> F64:
        out: F64 = self.ft_floor + (self.ft_start - self.ft_floor) * np.exp(-steps / self.ft_tau)
        return out + 0.35 * np.exp(-steps / 4.0)

    def _ft_drops(self, steps: F64) -> F64:
        spe = self.c.steps_per_epoch
        drops = np.zeros_like(steps)
        for e in range(1, self.c.epochs):
            after = steps - e * spe
            size = self.ft_drop * FT_DROP_DECAY ** (e - 1)
            # exp of the clamped value: np.where evaluates both branches, and exp(-after) of a
            # step long before the boundary overflows (a RuntimeWarning on the user's stderr).
            drops += np.where(after > 0, size * (1 - np.exp(-np.maximum(after, 0.0) / 6.0)), 0.0)
        return drops

    def spike_bump(self, steps: F64) -> F64:
        """Extra loss from spikes at these steps."""
        out = np.zeros_like(steps)
        for sp in self.spikes:
            k = steps - (sp.step + 1)
            tau = sp.recover / 3.0
            out += np.where(k >= 0, sp.amplitude * np.exp(-np.maximum(k, 0) / tau), 0.0)
        return out

    def validation(self, step: int, train_loss: float, rng: np.random.Generator) -> float:
        """Validation loss after `step`, 1-15 % above the train loss shown at that step.

        Pretraining: a near-constant gap over the smooth train curve. Fine-tunes: val sees
        only part of each epoch-boundary drop and creeps up late, so its ratio to train grows
        (soft-capped) and it flattens, which is what the patience counter reports.
        """
        s = np.array([float(step)])
        smooth = float(self.smooth(s)[0])
        if self.pretrain:
            raw = smooth * (1.0 + self.val_gap)
        else:
            held = float(self._ft_base(s)[0]) - self.val_follow * float(self._ft_drops(s)[0])
            late = max(0.0, step / self.c.steps_per_epoch - 1.0)
            raw = held * (1.0 + self.val_gap) + self.val_creep * (1.0 - math.exp(-late))
        span = VAL_RATIO_SPAN
        ratio = VAL_RATIO_FLOOR + span * math.tanh((raw / smooth - VAL_RATIO_FLOOR) / span)
        bump = float(self.spike_bump(s)[0])  # a spike perturbs the weights: val sees it too
        val = ratio * (smooth + bump) + float(rng.normal(0.0, 0.003))
        val = min(max(val, VAL_MIN * train_loss), VAL_MAX * train_loss)
        return round(val, LOSS_DECIMALS)

    # --- chunked draws -----------------------------------------------------------------
    def losses(self, steps: F64, rng: np.random.Generator) -> F64:
        """Training loss at consecutive steps, to 4 decimals (call with consecutive chunks)."""
        white = rng.standard_normal(len(steps))
        full = np.concatenate([self._white_tail, white])
        noise = np.convolve(full, self._kernel, mode="valid")
        self._white_tail = full[len(full) - (NOISE_TAPS - 1) :]
        base = self.smooth(steps)
        scale = (
            self.sigma * (1.0 + 1.5 * np.exp(-steps / (4 * self.s0)))
            if self.pretrain
            else (self.sigma)
        )
        out: F64 = base + scale * noise + self.spike_bump(steps)
        rounded: F64 = np.round(np.maximum(out, 0.05), LOSS_DECIMALS).astype(np.float64)
        return rounded

    def grad_norms(self, steps: F64, rng: np.random.Generator) -> F64:
        """Global gradient norm before clipping at these steps."""
        base = self.gn_floor * (1.0 + self.gn_early * np.exp(-steps / self.gn_decay))
        g: F64 = base * np.exp(rng.normal(0.0, 0.12, len(steps)))
        for sp in self.spikes:
            k = steps - sp.step
            g = np.where(k == 0, sp.grad, g)
            g = np.where((k > 0) & (k <= 4), g * (1.0 + 2.0 * np.exp(-np.clip(k, 0, 4) / 1.5)), g)
        return g
