"""What a post-training step reports besides its loss, sampled as the trainers compute it.

Each step draws its own batch from a random stream of its own (a step done again after a
restart reports the same numbers), around the run's expected course (plan/postcurves.py):

- GRPO: prompts x generations completions. Prompt and completion lengths are drawn per
  sequence; each prompt has a difficulty (a Beta draw around the reward function's share of
  successes), each completion earns each reward function's value by a Bernoulli draw. The
  step's reward means and standard deviations, the groups' std and the share of groups with
  one reward for all (frac_reward_zero_std), GRPO's group-normalised advantages, the length
  statistics and the tokens counted (prompt + completion) all come from these draws, as TRL
  and verl compute them.
- DPO: one margin per pair, chosen and rejected rewards around it; accuracy is the share of
  pairs whose margin is above 0 (strictly: 0.0 before the first update, when the policy is the
  reference), the loss the mean of -log sigmoid(margin). The printed means are float32 values
  on a grid of 2^-20 (2^-16 for large rewards), so rewards/margins is exactly rewards/chosen -
  rewards/rejected, as printed.
- LoRA SFT: the mean token accuracy and entropy that go with the step's loss.

Printed steps carry the mean over their log window, as TRL averages what it logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.plan import postcurves as pc
from llmsim.generator.plan.postspec import RolloutSpec
from llmsim.generator.plan.runplan import RunPlan
from llmsim.trace.cadence import printed_steps

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
RNG_POST: Final = 13  # the per-step streams: default_rng([seed, RNG_POST, step])
RNG_DPO_SHAPE: Final = 14
DIFFICULTY: Final = 2.0  # Beta concentration of a prompt's difficulty (low: many 0/1 groups)
LENGTH_SIGMA: Final = 0.45  # lognormal spread of completion lengths
PROMPT_SIGMA: Final = 0.25
GRID: Final = 2.0**-20  # float32-exact grid of the printed DPO rewards below 8
COARSE_GRID: Final = 2.0**-16  # ... below 128
MAX_PAIRS: Final = 4096  # pairs sampled for one DPO step


@dataclass
class PostStats:
    """Per-step values of a chunk of post-training steps (arrays over the chunk's steps)."""

    steps: I64
    tokens: I64  # tokens the step counts (GRPO: prompts and completions; else the batch)
    time_scale: F64  # the step's time against the plan's mean step
    values: dict[str, F64] = field(default_factory=dict)  # named statistics, per step
    gen_share: F64 | None = None  # of the step's time: generation (RL)


def _step_rng(plan: RunPlan, step: int) -> np.random.Generator:
    return np.random.default_rng([plan.config.seed, RNG_POST, step])


def stats(plan: RunPlan, steps: I64) -> PostStats | None:
    """The chunk's post-training statistics (None for pretraining and full fine-tunes)."""
    kind = plan.config.kind
    if kind == "grpo":
        post = plan.choice.post
        assert post is not None and post.rollout is not None
        return _grpo(plan, post.rollout, steps)
    if kind == "dpo":
        return _dpo(plan, steps)
    if kind == "lora":
        n = len(steps)
        gbt = plan.config.global_batch_tokens
        return PostStats(steps, np.full(n, gbt, dtype=np.int64), np.ones(n))
    return None


# --- GRPO -----------------------------------------------------------------------------------


def _grpo(plan: RunPlan, rollout: RolloutSpec, steps: I64) -> PostStats:
    c = plan.config
    rows = [_grpo_step(plan, rollout, int(s)) for s in steps]
    names = rows[0].keys()
    values = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in names}
    tokens = values.pop("tokens").astype(np.int64)
    th = plan.fit.throughput
    length = np.maximum(values["len_mean"], 1.0)
    plan_len = (rollout.len_start + rollout.len_end) / 2
    gen = th.gen_s * (
        0.5 * length / plan_len + 0.5 * values["len_max"] / max(1.0, values["len_max"].mean())
    )
    rest = (th.step_s - th.gen_s) * tokens / max(1.0, float(th.tokens_per_step))
    scale = (gen + rest) / th.step_s
    del c
    return PostStats(steps, tokens, scale, values, gen / (gen + rest))


def _grpo_step(plan: RunPlan, rollout: RolloutSpec, step: int) -> dict[str, float]:
    """One step's batch: lengths, rewards, advantages, as TRL's and verl's metrics see it."""
    c = plan.config
    rng = _step_rng(plan, step)
    g = rollout.generations
    prompts = max(1, c.global_batch // g)
    n = prompts * g
    p_len = np.clip(
        np.round(rollout.prompt_len * rng.lognormal(0.0, PROMPT_SIGMA, prompts)),
        16,
        rollout.max_prompt,
    )
    p_len = np.repeat(p_len, g)
    mean = float(pc.mean_length(rollout, step, c.total_steps)[()])
    sigma = LENGTH_SIGMA
    lengths = np.round(mean * rng.lognormal(-0.5 * sigma * sigma, sigma, n))
    lengths = np.clip(lengths, 4, rollout.max_completion)
    clipped = lengths >= rollout.max_completion
    total = np.zeros(n)
    out: dict[str, float] = {}
    for i, fn in enumerate(rollout.rewards):
        p = float(pc.reward_share(fn, step, c.total_steps)[()])
        k = DIFFICULTY
        difficulty = rng.beta(max(p * k, 1e-3), max((1 - p) * k, 1e-3), prompts)
        hit = rng.random(n) < np.repeat(difficulty, g)
        value = np.where(hit, fn.hi, fn.lo)
        total += fn.weight * value
        out[f"fn{i}_mean"] = float(value.mean())
        out[f"fn{i}_std"] = float(value.std(ddof=1))
    groups = total.reshape(prompts, g)
    group_std = groups.std(axis=1, ddof=1)
    group_mean = groups.mean(axis=1)
    adv = (groups - group_mean[:, None]) / (group_std[:, None] + 1e-6)
    adv = adv.ravel()
    out.update(
        reward=float(total.mean()),
        reward_std=float(group_std.mean()),
        frac_zero_std=float((group_std == 0).mean()),
        score_max=float(total.max()),
        score_min=float(total.min()),
        adv_mean=float((adv * lengths).sum() / lengths.sum()),
        adv_max=float(adv.max()),
        adv_min=float(adv.min()),
        len_mean=float(lengths.mean()),
        len_min=float(lengths.min()),
        len_max=float(lengths.max()),
        clipped=float(clipped.mean()),
        prompt_mean=float(p_len.mean()),
        prompt_min=float(p_len.min()),
        prompt_max=float(p_len.max()),
        response_tokens=float(lengths.sum()),
        tokens=float((p_len + lengths).sum()),
    )
    done = lengths[~clipped]
    out.update(
        term_mean=float(done.mean()) if len(done) else 0.0,
        term_min=float(done.min()) if len(done) else 0.0,
        term_max=float(done.max()) if len(done) else 0.0,
    )
    out.update(_seqlen_balance(p_len + lengths, c.dp))
    kl = float(pc.kl(rollout.beta, step, c.total_steps)[()]) * float(rng.lognormal(0.0, 0.15))
    out.update(
        kl=kl,
        entropy=float(pc.entropy(rollout.entropy_start, step, c.total_steps)[()])
        * float(1.0 + 0.03 * rng.standard_normal()),
        pg_loss=float(rng.normal(0.0, 0.012)),
        pg_clipfrac=float(rng.uniform(0.0005, 0.004)),
        ppo_kl=float(rng.normal(0.0, 1.5e-4)),
        logp_diff_mean=float(rng.uniform(0.008, 0.03)),
        logp_diff_max=float(rng.uniform(0.6, 3.0)),
        is_min=float(rng.uniform(0.05, 0.6)),
        is_mean=float(1.0 + rng.normal(0.0, 0.004)),
        is_max=float(rng.uniform(1.3, 2.0)),
    )
    return out


def _seqlen_balance(lengths: F64, dp: int) -> dict[str, float]:
    """verl's _balance_batch: tokens per data-parallel rank before (contiguous chunks) and
    after its balanced partition (the longest sequences first, each to the lightest rank)."""
    dp = max(1, dp)
    chunks = np.array_split(lengths, dp)
    before = np.array([c.sum() for c in chunks])
    loads = np.zeros(dp)
    for value in np.sort(lengths)[::-1]:
        loads[int(np.argmin(loads))] += value
    return {
        "seqlen_min": float(before.min()),
        "seqlen_max": float(before.max()),
        "seqlen_bmin": float(loads.min()),
        "seqlen_bmax": float(loads.max()),
        "seqlen_mean": float(lengths.sum() / dp),
    }


# --- DPO ------------------------------------------------------------------------------------


def dpo_shape(plan: RunPlan) -> pc.DpoShape:
    """The run's DPO course (its own stream: the plan's stays as it was)."""
    return pc.DpoShape.draw(
        plan.choice.post.beta if plan.choice.post else 0.1,
        np.random.default_rng([plan.config.seed, RNG_DPO_SHAPE]),
    )


def on_grid(x: F64) -> F64:
    """Round to a grid whose values and their differences are exact float32 numbers."""
    grid = GRID if float(np.abs(x).max(initial=0.0)) < 8.0 else COARSE_GRID
    out: F64 = np.round(x / grid) * grid
    return out


def pairs(
    shape: pc.DpoShape, step: int, total: int, n: int, rng: np.random.Generator
) -> dict[str, float]:
    """The DPO metrics of `n` pairs at `step` (step 1: the policy is the reference)."""
    if step <= 1:
        return {
            "margin": 0.0,
            "chosen": 0.0,
            "rejected": 0.0,
            "accuracy": 0.0,
            "loss": math.log(2.0),
        }
    mu, drift, spread = (float(v[()]) for v in shape.at(step, total))
    margins = rng.normal(mu, spread, n)
    chosen = drift + 0.5 * (margins - mu) + rng.normal(0.0, 0.3 * spread, n)
    loss = float(np.logaddexp(0.0, -margins).mean())
    return {
        "margin": float(margins.mean()),
        "chosen": float(chosen.mean()),
        "rejected": float((chosen - margins).mean()),
        "accuracy": float((margins > 0).mean()),
        "loss": loss,
    }


def _dpo(plan: RunPlan, steps: I64) -> PostStats:
    c = plan.config
    shape = dpo_shape(plan)
    n = min(c.global_batch, MAX_PAIRS)
    rows = [pairs(shape, int(s), c.total_steps, n, _step_rng(plan, int(s))) for s in steps]
    values = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    tokens = np.full(len(steps), c.global_batch_tokens, dtype=np.int64)
    return PostStats(steps, tokens, np.ones(len(steps)), values)


def window_means(plan: RunPlan, steps: I64, values: F64) -> F64:
    """Printed steps carry their log window's mean (step 1 its own, as the stacks log it)."""
    c = plan.config
    log = c.log_interval
    ids = (steps - 1) // log
    if log > 1:
        ids = np.where(steps == 1, -1, ids)
    _, start, counts = np.unique(ids, return_index=True, return_counts=True)
    means = np.add.reduceat(values, start) / counts
    ends = start + counts - 1
    out = values.copy()
    printed = printed_steps(c, steps[ends])
    out[ends[printed]] = means[printed]
    return out
