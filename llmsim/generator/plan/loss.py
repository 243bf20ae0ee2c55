"""Training and validation loss and gradient norm as functions of the global step.

Pretraining from scratch follows the Chinchilla fit L = E + A/N^alpha + B/D^beta at the tokens
seen (D = step x tokens per step), starting at ln(vocab) and falling steeply at first; a trace
shows a window late in that schedule, so its loss is the fit's value there. A continued
pretraining stage starts from the base model's loss on its own pretraining tokens, a little
above it on the new data, and settles. Fine-tunes start at 1.5-2.5 and drop at each epoch
boundary. Loss spikes come from the plan's episodes (grad norm first, then loss).

The noise of a step is a function of the run and the step (a counter-based hash, not a
sequential stream): a job relaunched from a checkpoint feeds the same batches to the same
weights, so the steps it redoes repeat their first pass, and so do its evaluations, but for
the last digits that non-deterministic kernels (bf16 reductions, NCCL's summation order) move
(RERUN_JITTER, from the caller's stream).
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
RERUN_JITTER: Final = 2e-4  # sigma of what a rerun of the same step moves (loss; relative: grad)
# Keys of the per-step noise streams.
_LOSS, _GRAD, _VAL = 1, 2, 3
_MIX: Final = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _hash(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: a well-mixed 64-bit value per input (uint64 arithmetic wraps)."""
    golden, m1, m2 = (np.uint64(v) for v in _MIX)
    z = x + golden
    z = (z ^ (z >> np.uint64(30))) * m1
    z = (z ^ (z >> np.uint64(27))) * m2
    out: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def step_normals(key: int, stream: int, steps: npt.ArrayLike) -> F64:
    """Standard normal draws that depend only on (run key, stream, step): Box-Muller over two
    hashed uniforms."""
    s = np.asarray(steps, dtype=np.int64).astype(np.uint64)
    base = _hash(np.full(s.shape, (key * 8 + stream) & (2**64 - 1), dtype=np.uint64))
    h1 = _hash(base ^ (s * np.uint64(2)))
    h2 = _hash(base ^ (s * np.uint64(2) + np.uint64(1)))
    scale = 2.0**-53
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    u2 = ((h2 >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    out: F64 = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return out


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
    """A run's loss curve plus noise, evaluated on any steps (`key`: the run's, e.g. its seed)."""

    def __init__(self, shape: LossShape, key: int = 0) -> None:
        self.s = shape
        self.key = key
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

    def noise(self, steps: F64) -> F64:
        """The loss noise of these steps: a moving average of per-step draws (lightly
        autocorrelated), the same whenever a step is computed."""
        lags = steps[:, None] - np.arange(NOISE_TAPS)[None, :]
        white = step_normals(self.key, _LOSS, lags)
        out: F64 = white @ self._kernel
        return out

    def losses(
        self, steps: F64, rng: np.random.Generator | None, decimals: int = LOSS_DECIMALS
    ) -> F64:
        """Training loss at these steps, rounded as printed; `rng` moves only the last digits
        (a rerun's non-determinism; None: the plan's expectation, without them)."""
        rerun = _jitter(rng, RERUN_JITTER, len(steps))
        out = self.smooth(steps) + self.s.sigma * self.noise(steps) + self.spike_bump(steps) + rerun
        rounded: F64 = np.round(np.maximum(out, 0.05), decimals).astype(np.float64)
        return rounded

    def grad_norms(self, steps: F64, rng: np.random.Generator) -> F64:
        """Global gradient norm before clipping at these steps."""
        s = self.s
        base = s.gn_floor * (1.0 + s.gn_early * np.exp(-steps / s.gn_decay))
        rerun = _jitter(rng, RERUN_JITTER, len(steps))
        g: F64 = base * np.exp(0.12 * step_normals(self.key, _GRAD, steps) + rerun)
        for sp in s.spikes:
            k = steps - sp.step
            g = np.where(k == 0, sp.grad, g)
            g = np.where((k > 0) & (k <= 4), g * (1.0 + 2.0 * np.exp(-np.clip(k, 0, 4) / 1.5)), g)
        return g

    def validation(
        self,
        step: int,
        train_loss: float,
        rng: np.random.Generator | None,
        decimals: int | None = LOSS_DECIMALS,
    ) -> float:
        """Validation loss after `step`.

        Single-epoch pretraining: the model has not seen the training data either, so val sits
        within a few percent of the smooth train curve, either side. Fine-tunes: val sees only
        part of each epoch drop and creeps up late, 1-15 % above train.
        """
        at = np.array([float(step)])
        rerun = _jitter(rng, RERUN_JITTER / 2, 1)
        return _shown(float(self._validations(at, np.array([train_loss]), rerun)[0]), decimals)

    def _validations(self, steps: F64, train: F64, rerun: F64) -> F64:
        """Validation losses after these steps before they are printed (the rule above)."""
        s = self.s
        smooth = self.smooth(steps) + self.spike_bump(steps)
        drawn = step_normals(self.key, _VAL, steps)  # the same held-out batches each time
        if s.kind != "finetune":
            out: F64 = smooth * (1.0 + s.val_gap) + 0.002 * drawn + rerun
            return out
        held = self._ft_base(steps) - s.val_follow * self._ft_drops(steps)
        late = np.maximum(0.0, steps / s.steps_per_epoch - 1.0)
        raw = held * (1.0 + s.val_gap) + s.val_creep * (1.0 - np.exp(-late))
        val: F64 = np.minimum(
            np.maximum(raw + 0.003 * drawn + rerun, VAL_MIN * train), VAL_MAX * train
        )
        return val

    def patience_peak(self, evals: F64, decimals: int | None) -> int:
        """The highest count of evaluations without a new best validation loss in a row (what
        an early-stopping callback's patience counter reaches) over these evaluation steps,
        without a rerun's jitter."""
        if len(evals) == 0:
            return 0
        train = self.losses(evals, None)
        raw = self._validations(evals, train, np.zeros(len(evals)))
        vals = raw.astype(np.float32) if decimals is None else np.round(raw, decimals)
        before = np.concatenate(([np.inf], np.minimum.accumulate(vals)[:-1]))
        news = np.append(np.flatnonzero(vals < before), len(vals))  # each new best resets it
        return int((np.diff(news) - 1).max())


def _jitter(rng: np.random.Generator | None, sigma: float, n: int) -> F64:
    """What a rerun's non-deterministic kernels move (within 3 sigma); zeros without `rng`."""
    if rng is None:
        return np.zeros(n)
    out: F64 = np.clip(rng.normal(0.0, sigma, n), -3 * sigma, 3 * sigma)
    return out


def _shown(value: float, decimals: int | None) -> float:
    """A loss as the stack prints it: rounded, or the float of a float32 tensor (HF)."""
    if decimals is None:
        return float(np.float32(value))
    return round(value, decimals)
