"""The schedule: how many steps, which window the trace shows, learning rate, data and cadences.

Pretraining traces are the window at the end of a long schedule (the job resumes from a
checkpoint deep into it); fine-tunes run from their first step. Either way the window is sized
so the whole run takes the wanted duration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.catalog.architecture import ModelSpec, param_count
from llmsim.generator.catalog.datasets import CORPORA, SFT_SETS, SftSet
from llmsim.generator.catalog.software import DAY
from llmsim.generator.options import DurationTooShort, GeneratorError
from llmsim.generator.plan.fit import Fit
from llmsim.generator.plan.profile import StackProfile
from llmsim.trace.config import MAX_STEPS
from llmsim.trace.vocab import RunKind

MIN_WINDOW: Final = 12  # fewest steps a trace shows
SCHEDULE_DAYS: Final = (20.0, 90.0)  # wall-clock length of a whole pretraining schedule


@dataclass(frozen=True)
class Schedule:
    """Steps, window, learning rate, data and cadences of a run."""

    epochs: int
    steps_per_epoch: int
    total_steps: int
    resume_step: int
    warmup_steps: int
    lr_peak: float
    lr_min: float
    dataset: str
    dataset_tokens: int
    examples: int  # sequences per epoch (packed)
    log_interval: int
    eval_interval: int
    eval_batches: int
    checkpoint_interval: int
    save_total_limit: int

    @property
    def window(self) -> int:
        """Steps the trace shows."""
        return self.total_steps - self.resume_step


@dataclass(frozen=True)
class Costs:
    """Seconds of everything but the steps, for sizing the window."""

    fixed_s: float  # init + export + closing
    step_s: float
    eval_batch_s: float
    checkpoint_s: float


def lr_at(
    warmup: int, total: int, peak: float, low: float, steps: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Learning rate after optimizer step `steps`: linear warm-up, then cosine to `low`."""
    s = np.asarray(steps, dtype=np.float64)
    warm = max(1, warmup)
    progress = np.clip((s - warm) / max(1, total - warm), 0.0, 1.0)
    cosine = low + (peak - low) * 0.5 * (1.0 + np.cos(np.pi * progress))
    out: npt.NDArray[np.float64] = np.where(s <= warm, peak * s / warm, cosine)
    return out


def nice(x: float) -> int:
    """The nearest number a person would configure: 1, 2, 5, 10, 20, 25, 50, 100, 200, ..."""
    if x <= 1:
        return 1
    e = 10 ** math.floor(math.log10(x))
    options = [m * e for m in (1, 2, 2.5, 5, 10) if float(m * e).is_integer()]
    return int(min(options, key=lambda v: abs(math.log(v / x))))


def log_interval(profile: StackProfile, step_s: float) -> int:
    """How often the stack prints its step line: its own rule, else every ~12 seconds."""
    own = profile.log_interval(step_s)
    return own if own is not None else max(1, min(100, nice(12.0 / step_s)))


def _cadences(log: int, window: int) -> tuple[int, int]:
    """(eval interval, checkpoint interval): multiples of the log interval, evals every ~third."""
    ev = max(log, nice(window / 3.2) // log * log)
    ckpt = ev * max(1, round(window / 2.0 / ev))
    return ev, ckpt


def _window(costs: Costs, duration: float, eval_s: float, evals: int = 3) -> int:
    budget = duration - costs.fixed_s
    # solve W x step + evals (every ~W/3; Megatron: one in the window, one after) + two saves
    steps = (budget - evals * eval_s - 2 * costs.checkpoint_s) / costs.step_s
    return int(steps)


def shortest(costs: Costs, eval_s: float) -> float:
    """Seconds of the shortest run: the fixed parts, the fewest steps, two evals and saves."""
    return costs.fixed_s + MIN_WINDOW * costs.step_s + 2 * eval_s + 2 * costs.checkpoint_s


def _pretrain_tokens(
    spec: ModelSpec, profile: StackProfile, tokens_per_s: float, rng: np.random.Generator
) -> tuple[str, int, int]:
    """(dataset, its tokens, tokens of the whole schedule) of a pretraining run.

    From scratch: 20-1500 tokens per parameter, within the corpus, and no more than the cluster
    gets through in a season (a schedule nobody could finish is a tell).
    """
    n = param_count(spec)
    if profile.continued_pretraining:  # a stage of a few billion tokens
        corpus = CORPORA[int(rng.integers(0, len(CORPORA)))]
        return corpus.hub_id, corpus.tokens, int(float(rng.uniform(1.0, 8.0)) * 1e9)
    pool = [c for c in CORPORA if profile.reads(c)]
    days = float(rng.uniform(*SCHEDULE_DAYS))
    ratio = float(np.exp(rng.uniform(np.log(20.0), np.log(1500.0))))
    ratio = min(ratio, tokens_per_s * days * DAY / n)
    corpus = pool[int(rng.integers(0, len(pool)))]
    big = [c for c in pool if c.tokens >= ratio * n]
    if corpus.tokens < ratio * n:
        corpus = big[int(rng.integers(0, len(big)))] if big else max(pool, key=lambda c: c.tokens)
    tokens = int(min(ratio * n, corpus.tokens * 0.98))
    return corpus.hub_id, corpus.tokens, tokens


def _lr(kind: RunKind, profile: StackProfile, spec: ModelSpec, rng: np.random.Generator) -> float:
    n = param_count(spec)
    if kind == "finetune":
        options = (2e-4, 1e-4, 5e-5, 2e-5) if n < 10e9 else (5e-5, 2e-5, 1e-5)
        return float(rng.choice(options))
    if profile.continued_pretraining:
        return float(rng.choice((3e-5, 2e-5, 1e-5)))
    return 3e-4 if n <= 13.5e9 else 1.5e-4 if n <= 75e9 else 8e-5


def pretrain(
    spec: ModelSpec,
    profile: StackProfile,
    fit: Fit,
    costs: Costs,
    duration: float,
    window: int | None,
    rng: np.random.Generator,
) -> Schedule:
    """A pretraining schedule whose last `window` steps fill `duration`."""
    log = log_interval(profile, costs.step_s)
    fixed = window is not None
    guess = window or max(MIN_WINDOW, _window(costs, duration, 10 * costs.eval_batch_s))
    eval_every, ckpt_every = _cadences(log, guess)
    every = profile.save_interval(log, costs.step_s, rng)
    if every is not None:
        eval_every = ckpt_every = every
    log, eval_every, ckpt_every = profile.typed_cadences(log, eval_every, ckpt_every, guess)
    eval_batches = _eval_batches(profile, costs.eval_batch_s, min(12.0, duration / 40.0))
    eval_s = eval_batches * costs.eval_batch_s
    if window is None:
        window = _window(costs, duration, eval_s, profile.window_evals)
        if window < MIN_WINDOW:
            raise DurationTooShort(too_short(duration, costs, eval_s))
    dataset, dataset_tokens, tokens = _pretrain_tokens(
        spec, profile, fit.throughput.tokens_per_s, rng
    )
    gbt = fit.global_batch * fit.seq_len
    estimate = max(math.ceil(tokens / gbt), window + ckpt_every)
    if profile.continued_pretraining and estimate <= window + ckpt_every:
        resume = 0  # the whole (short) stage fits in the trace
    else:
        resume = max(ckpt_every, (estimate - window) // ckpt_every * ckpt_every)
    resume, window = profile.align_window(resume, window, ckpt_every, log, fixed, rng)
    total = resume + window
    if total > MAX_STEPS:
        raise GeneratorError(f"the schedule would need {total:,} steps; at most {MAX_STEPS:,}")
    warmup = (
        max(10, round(0.02 * total))
        if profile.continued_pretraining
        else min(8000, max(500, nice(0.005 * total)))
    )
    peak = _lr("pretrain", profile, spec, rng)
    return Schedule(
        epochs=1,
        steps_per_epoch=total,
        total_steps=total,
        resume_step=resume,
        warmup_steps=min(warmup, max(1, total // 10)) if resume == 0 else warmup,
        lr_peak=peak,
        lr_min=peak * 0.1,
        dataset=dataset,
        dataset_tokens=dataset_tokens,
        examples=total * fit.global_batch,
        log_interval=log,
        eval_interval=eval_every,
        eval_batches=eval_batches,
        checkpoint_interval=ckpt_every,
        save_total_limit=int(rng.integers(2, 6)),
    )


def _eval_batches(profile: StackProfile, batch_s: float, seconds: float = 12.0) -> int:
    """Evaluation batches per pass: what the stack's config would say, ~`seconds` of work."""
    wanted = float(np.clip(seconds / max(batch_s, 1e-3), 5, 2000))
    return max(profile.min_eval_batches, nice(wanted))


def _steps_left(
    costs: Costs, duration: float, epochs: int, per_epoch_evals: int, eval_batches: int
) -> float:
    """Steps per epoch that fit in `duration` next to the fixed parts, evals and saves."""
    pauses = epochs * per_epoch_evals * (eval_batches * costs.eval_batch_s + 0.4)
    pauses += epochs * per_epoch_evals / 1.5 * costs.checkpoint_s
    return (duration - costs.fixed_s - pauses) / epochs / (costs.step_s * 1.06)


def too_short(duration: float, costs: Costs, eval_s: float) -> str:
    """The one-line refusal of a duration that leaves no room for the fewest steps."""
    need = shortest(costs, eval_s)
    return (
        f"--duration {duration:.0f} s is too short for this run: start-up, checkpoint loading "
        f"and the export take about {costs.fixed_s:.0f} s, and {MIN_WINDOW} steps of "
        f"{costs.step_s:.1f} s with evaluations and saves about {need - costs.fixed_s:.0f} s "
        f"more (ask for at least {math.ceil(need / 10) * 10:.0f} s)"
    )


def finetune(
    spec: ModelSpec,
    profile: StackProfile,
    fit: Fit,
    costs: Costs,
    duration: float | None,
    epochs: int,
    steps_per_epoch: int | None,
    rng: np.random.Generator,
    post: PostData | None = None,
) -> Schedule:
    """A fine-tune from step 1 over (part of) an SFT set, `epochs` times; `post`: the sets a
    post-training run reads, how many sequences an example gives, its learning rate."""
    table = post.sets if post is not None else SFT_SETS

    def held(d: SftSet) -> int:  # training sequences the set holds
        if post is not None and post.per_example:
            return d.examples * post.per_example
        return d.examples * d.mean_tokens // fit.seq_len

    sets = list(table)
    if steps_per_epoch is not None:  # only sets that hold that many sequences
        need = steps_per_epoch * fit.global_batch
        sets = [d for d in table if held(d) >= need] or sets
    data = sets[int(rng.integers(0, len(sets)))]
    packed = held(data)
    per_epoch_evals = int(rng.choice((2, 3, 4)))
    eval_s = min(12.0, (duration or 1800.0) / 40.0)  # a short run evaluates briefly
    eval_batches = _eval_batches(profile, costs.eval_batch_s, eval_s)
    if post is not None and post.eval_batches is not None:
        eval_batches = post.eval_batches
    if steps_per_epoch is None:
        per_epoch = _steps_left(costs, duration or 0.0, epochs, per_epoch_evals, eval_batches)
        while per_epoch * epochs < MIN_WINDOW and per_epoch_evals > 1:  # a short run: fewer evals
            per_epoch_evals -= 1
            per_epoch = _steps_left(costs, duration or 0.0, epochs, per_epoch_evals, eval_batches)
        steps_per_epoch = max(MIN_WINDOW // epochs + 1, int(per_epoch))
        if per_epoch * epochs < MIN_WINDOW:
            raise DurationTooShort(
                too_short(duration or 0.0, costs, eval_batches * costs.eval_batch_s)
            )
        richest = max(sets, key=held)
        if steps_per_epoch * fit.global_batch > packed:
            data = richest
            packed = held(data)
            steps_per_epoch = min(steps_per_epoch, max(1, packed // fit.global_batch))
    examples = steps_per_epoch * fit.global_batch
    if examples > packed:
        raise GeneratorError(
            f"{steps_per_epoch:,} steps of {fit.global_batch:,} sequences is more than "
            f"{data.hub_id} holds ({packed:,} packed sequences of {fit.seq_len:,} tokens)"
        )
    total = steps_per_epoch * epochs
    log = min(log_interval(profile, costs.step_s), max(1, steps_per_epoch // 4))
    eval_every = _divisor_near(steps_per_epoch, steps_per_epoch / per_epoch_evals)
    if post is not None and post.eval_every is not None:
        eval_every = post.eval_every if post.eval_every > 0 else total + 1  # 0: never
    peak = post.lr if post is not None else _lr("finetune", profile, spec, rng)
    ckpt_every = eval_every * int(rng.choice((1, 2)))
    typed = profile.typed_cadences(log, min(eval_every, total), ckpt_every, total)
    log = typed[0]
    if eval_every <= total:  # a run that never evaluates keeps saving only at its end
        eval_every, ckpt_every = typed[1:]
    return Schedule(
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        resume_step=0,
        warmup_steps=0
        if post is not None and post.constant_lr
        else max(min(10, max(1, total // 10)), round(0.03 * total)),
        lr_peak=peak,
        lr_min=peak if post is not None and post.constant_lr else 0.1 * peak,
        dataset=data.hub_id,
        dataset_tokens=data.examples * data.mean_tokens,
        examples=examples,
        log_interval=log,
        eval_interval=eval_every,
        eval_batches=eval_batches,
        checkpoint_interval=ckpt_every,
        save_total_limit=int(rng.integers(2, 4)),
    )


@dataclass(frozen=True)
class PostData:
    """What a post-training run's schedule reads: its sets, the training sequences an example
    gives (0: SFT examples packed into sequences; DPO 1 pair; GRPO a completion per
    generation), its learning rate, and its evaluation interval (None: evaluations per epoch as
    a fine-tune's; 0: none)."""

    sets: tuple[SftSet, ...]
    per_example: int
    lr: float
    eval_every: int | None = None
    eval_batches: int | None = None  # batches of a validation pass (None: sized by its time)
    constant_lr: bool = False  # no warm-up, no decay (verl's default `warmup_style: constant`)


def _divisor_near(n: int, target: float) -> int:
    """The divisor of n nearest `target` (evaluations land on epoch ends)."""
    target = max(1.0, target)
    divisors = [d for d in range(1, min(n, 20_000) + 1) if n % d == 0]
    return min(divisors, key=lambda d: (abs(math.log(d / target)), -d))
