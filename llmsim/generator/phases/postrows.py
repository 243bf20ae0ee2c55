"""Post-training columns of step and eval rows, and the RL step's generation/training split.

The step table of a LoRA, DPO or GRPO run gets, besides the common columns: the tokens a step
counts (GRPO: its prompts and completions, so `tokens_per_s x step_time` is that step's
tokens), the typed columns of docs/trace-format.md (reward, KL, entropy, lengths, DPO's
rewards), and `metrics`: one value per key of config.metric_keys, from the stack's own run
(stacks/<name>/run.py `metric_values`), NaN where a typed column holds the key or the row does
not report it. DPO and GRPO print no perplexity.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from llmsim.generator.phases.state import TrainState
from llmsim.generator.phases.telemetry import GEN, TRAIN, Segment
from llmsim.generator.plan import postcurves as pc
from llmsim.generator.plan.poststats import (
    PostStats,
    dpo_shape,
    on_grid,
    pairs,
    window_means,
)
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.stacks.common.run import StackRun, StepView
from llmsim.generator.stacks.context import Context

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
RNG_EVAL_POST = 15


def _f32(x: F64) -> F64:
    """The value of a float32 tensor's .item(): what TRL prints of its logged means."""
    out: F64 = x.astype(np.float32).astype(np.float64)
    return out


def _sft_stats(plan: RunPlan, steps: I64, losses: F64) -> dict[str, F64]:
    """Token accuracy and entropy that go with the loss (TRL's SFT metrics)."""
    rng = np.random.default_rng([plan.config.seed, RNG_EVAL_POST, int(steps[0])])
    n = len(steps)
    accuracy = np.clip(0.985 - 0.235 * losses + rng.normal(0.0, 0.004, n), 0.3, 0.99)
    entropy = 0.58 * losses + 0.17 + rng.normal(0.0, 0.015, n)
    return {"token_accuracy": accuracy, "entropy": np.maximum(entropy, 0.05)}


def step_columns(
    plan: RunPlan,
    run: StackRun,
    ctx: Context,
    pst: PostStats,
    times: F64,
    eval_s: F64,
    save_s: F64,
    losses: F64,
    grads: F64,
    lr: F64,
    state: TrainState,
) -> dict[str, Any]:
    """The step table's post-training columns (and the common ones they change)."""
    c = plan.config
    steps = pst.steps
    cols: dict[str, Any] = {}
    values = {k: window_means(plan, steps, v) for k, v in pst.values.items()}
    if c.kind == "lora":
        values.update(_sft_stats(plan, steps, losses))
        cols["entropy"] = values["entropy"]
    first = int(steps[0]) - 1
    base = state.tokens_at.get(first, first * c.global_batch_tokens)
    total = base + np.cumsum(pst.tokens)
    for s, t in zip(steps.tolist(), total.tolist(), strict=True):
        state.tokens_at[s] = int(t)
    if c.kind == "grpo":
        post = plan.choice.post
        beta = post.rollout.beta if post is not None and post.rollout is not None else 0.0
        tps = pst.tokens / times
        tflops = plan.fit.throughput.flops_per_token * tps / c.gpus / 1e12
        loss = np.round(values["pg_loss"] + beta * values["kl"], 4)
        cols.update(
            tokens=total,
            tokens_per_s=tps,
            tokens_per_s_gpu=tps / c.gpus,
            tflops=tflops.astype(np.float32),
            mfu=(tflops / c.gpu_peak_tflops).astype(np.float32),
            loss=loss,
            ppl=None,
            reward=values["reward"],
            reward_std=values["reward_std"],
            kl=values["kl"],
            entropy=values["entropy"],
            response_len=values["len_mean"],
        )
        losses = loss
    elif c.kind == "dpo":
        chosen = on_grid(values["chosen"])
        margin = on_grid(values["margin"])
        loss = np.round(values["loss"], 4)
        cols.update(
            chosen=chosen,
            margin=margin,
            rejected=chosen - margin,
            accuracy=_f32(values["accuracy"]),
            loss=loss,
            ppl=None,
        )
        losses = loss
    if plan.profile.logs_after_pauses:  # the line follows the step's validation and save
        cols["t_shift"] = eval_s + save_s + 1e-3
    pst.values.update(values)
    view = StepView(
        stats=pst,
        times=times,
        losses=losses,
        lr=lr,
        grads=grads,
        tokens=pst.tokens,
        total_tokens=total.astype(np.int64),
        epochs=(steps - 1) // c.steps_per_epoch + 1,
        eval_s=eval_s,
        save_s=save_s,
    )
    cols["metrics"] = _metrics(c.metric_keys, run.metric_values(ctx, view), len(steps))
    return cols


def _metrics(keys: tuple[str, ...], values: dict[str, F64], n: int) -> F64 | None:
    """The metrics column: a row per step, a value per key (NaN: not in the list)."""
    if not keys:
        return None
    out = np.full((n, len(keys)), np.nan)
    for j, key in enumerate(keys):
        if key in values:
            out[:, j] = values[key]
    return out


def eval_columns(
    plan: RunPlan, run: StackRun, ctx: Context, step: int, val: float, state: TrainState
) -> dict[str, Any]:
    """An eval row's post-training columns (and the common ones they change)."""
    c = plan.config
    rng = np.random.default_rng([c.seed, RNG_EVAL_POST, 1_000_000 + step])
    cols: dict[str, Any] = {}
    stats: dict[str, float] = {}
    if c.kind == "lora":
        stats["token_accuracy"] = float(
            np.clip(0.985 - 0.235 * val + rng.normal(0, 0.003), 0.3, 0.99)
        )
        cols["entropy"] = 0.58 * val + 0.17 + float(rng.normal(0.0, 0.01))
        cols["tokens"] = state.tokens_at.get(step, step * c.global_batch_tokens)
    elif c.kind == "dpo":
        n = c.eval_batches * c.micro_batch * c.dp
        got = pairs(dpo_shape(plan), step, c.total_steps, n, rng)
        chosen = on_grid(np.array([got["chosen"]]))[0]
        margin = on_grid(np.array([got["margin"]]))[0]
        loss = float(np.float32(got["loss"] + abs(rng.normal(0.0, 0.02))))
        cols.update(
            chosen=chosen,
            margin=margin,
            rejected=chosen - margin,
            accuracy=float(np.float32(got["accuracy"])),
            val_loss=loss,
            val_ppl=None,
            ppl=None,
        )
        stats.update(got)
    elif c.kind == "grpo":
        post = plan.choice.post
        assert post is not None and post.rollout is not None
        fn = post.rollout.rewards[0]
        cols.update(
            reward=pc.validation_share(fn, step, c.total_steps, rng),
            val_loss=None,
            val_ppl=None,
            loss=None,
            ppl=None,
        )
    extra = run.eval_metric_values(ctx, step, stats)
    keys = c.eval_metric_keys
    if keys:
        cols["metrics"] = [float(extra.get(k, math.nan)) for k in keys]
    return cols


def rl_segments(segments: list[Segment], t_end: F64, times: F64, share: F64) -> list[Segment]:
    """Training segments split per step into generation then training (RL runs)."""
    out: list[Segment] = []
    starts = t_end - times
    gen_end = starts + times * share
    for seg in segments:
        if seg.activity != TRAIN:
            out.append(seg)
            continue
        inside = np.flatnonzero((starts < seg.t1) & (t_end > seg.t0))
        t = seg.t0
        for i in inside.tolist():
            a, g, b = max(float(starts[i]), seg.t0), float(gen_end[i]), min(float(t_end[i]), seg.t1)
            if a > t:
                out.append(Segment(t, a, seg.phase, TRAIN, seg.mem0, seg.mem1))
            if g > a:
                out.append(Segment(a, min(g, b), seg.phase, GEN, seg.mem0, seg.mem1))
            if b > max(g, a):
                out.append(Segment(max(g, a), b, seg.phase, TRAIN, seg.mem0, seg.mem1))
            t = max(t, b)
        if seg.t1 > t or not inside.size:
            out.append(Segment(t, seg.t1, seg.phase, TRAIN, seg.mem0, seg.mem1))
    return out
