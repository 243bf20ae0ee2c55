"""Training phase, chunk by chunk: steps, evaluations, checkpoints, side lines, telemetry.

The loop runs attempts: the job's first launch from the resumed step, then, after each planned
failure (phases/restart.py), a relaunch from the last checkpoint's step, the steps in between
appearing twice. Chunks are whole log windows (a failure cuts the last one short), so what a
stack averages over a window is computed in one piece.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from llmsim.generator.phases import faults, postrows
from llmsim.generator.phases import restart as phase_restart
from llmsim.generator.phases import steps as st
from llmsim.generator.phases.state import TrainState
from llmsim.generator.phases.telemetry import CKPT, EVAL, TRAIN, Segment, Telemetry
from llmsim.generator.plan import poststats
from llmsim.generator.plan.incidents import at_step
from llmsim.generator.plan.loss import LossModel
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.plan.schedule import lr_at
from llmsim.generator.plan.timing import checkpoint_bytes, export_bytes
from llmsim.generator.rows import Clock, Rows, merge
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.context import Context, Ids
from llmsim.trace.writer import make_table

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
ETA_WINDOW: Final = 50
CHUNK_VALUES: Final = 1_500_000  # telemetry values per chunk (keeps memory flat)
MAX_CHUNK_STEPS: Final = 20_000


@dataclass
class Streams:
    """The random sub-streams of the training phase."""

    loss: np.random.Generator
    times: np.random.Generator
    evals: np.random.Generator
    lines: np.random.Generator


@dataclass
class Chunk:
    """One chunk's arrays, once its timing is known."""

    steps: I64
    times: F64  # per step (window means)
    t_end: F64  # when each step ends
    pause_at: dict[int, tuple[float, float]]  # index -> (eval seconds, save seconds)
    end: float  # t after the chunk (and its last pause)


def chunk_steps(plan: RunPlan) -> int:
    """Steps per chunk: whole log windows, and a bounded amount of telemetry."""
    c = plan.config
    per = CHUNK_VALUES / c.gpus * c.telemetry_interval / plan.fit.throughput.step_s
    steps = int(min(MAX_CHUNK_STEPS, max(200, per)))
    return max(c.log_interval, steps // c.log_interval * c.log_interval)


def chunks(
    plan: RunPlan, ids: Ids, streams: Streams, tele: Telemetry, run: StackRun, state: TrainState
) -> Iterator[pa.Table]:
    """The training phase as time-sorted tables."""
    lm = LossModel(plan.loss, plan.config.seed)
    opening = Rows()
    opening.phase(state.t, "train", "Training")
    pending: list[pa.Table] = [opening.table()]
    size = chunk_steps(plan)
    failures = list(plan.incidents.failures)
    while state.step < plan.config.total_steps:
        a = state.step + 1
        b = min(plan.config.total_steps, a + size - 1 - (a - 1) % plan.config.log_interval)
        failure = failures.pop(0) if failures and failures[0].step <= b else None
        if failure is not None:
            b = failure.step - 1  # the failing step never completes
        if b >= a:
            pending += _chunk(plan, ids, streams, tele, run, lm, state, a, b)
        if failure is not None:
            pending += phase_restart.events(plan, ids, run, tele, state, failure, streams.lines)
        yield merge(pending)
        pending = []


def _timing(
    plan: RunPlan,
    run: StackRun,
    ctx: Context,
    state: TrainState,
    a: int,
    b: int,
    rng: np.random.Generator,
    scale: F64 | None = None,
) -> Chunk:
    """The chunk's step times, its pauses and when each step ends (`scale`: each step's time
    against the plan's mean, where the work varies by step: RL's completion lengths)."""
    c = plan.config
    steps = np.arange(a, b + 1, dtype=np.int64)
    evals = plan.profile.evaluates(steps, c.eval_interval, c.total_steps)
    saves = (steps % c.checkpoint_interval == 0) | (steps == c.total_steps)
    after = np.concatenate([[False], (evals | saves)[:-1]])
    pauses = run.pauses(ctx, steps) + at_step(plan.incidents, "dataloader_stall", steps)
    raw = st.raw_times(plan, steps, after, pauses, rng, state.first)
    if scale is not None:
        raw = raw * scale
    times = st.window_means(steps, raw, c.log_interval)
    pause_at: dict[int, tuple[float, float]] = {}
    for i in np.flatnonzero(evals | saves):
        step = int(steps[i])
        ev = _eval_seconds(plan, rng) if evals[i] else 0.0
        sv = _save_seconds(plan, step, rng) if saves[i] else 0.0
        pause_at[int(i)] = (ev, sv)
    pause = np.zeros(len(steps))
    for j, (ev, sv) in pause_at.items():
        pause[j] = ev + sv
    before = np.concatenate([[0.0], np.cumsum(pause)[:-1]])
    t_end = state.t + np.cumsum(times) + before
    return Chunk(steps, times, t_end, pause_at, float(t_end[-1] + pause[-1]))


def _eval_seconds(plan: RunPlan, rng: np.random.Generator) -> float:
    return (
        plan.config.eval_batches * plan.timings.eval_batch_s * float(rng.uniform(0.97, 1.05)) + 0.4
    )


def _save_seconds(plan: RunPlan, step: int, rng: np.random.Generator) -> float:
    if plan.profile.model_only_save(step, plan.config.total_steps):  # bf16 weights only
        return export_bytes(plan.choice.model) / (plan.io.checkpoint_gbs * 1e9) + 1.0
    retry = float(at_step(plan.incidents, "checkpoint_retry", np.array([step]))[0])
    return plan.timings.checkpoint_s * float(rng.uniform(1.0, 1.12)) + retry  # never above the FS


def _step_table(
    plan: RunPlan,
    ch: Chunk,
    state: TrainState,
    losses: F64,
    grads: F64,
    lr: F64,
    post: dict[str, Any] | None = None,
) -> pa.Table:
    c = plan.config
    si, n = ch.steps, len(ch.steps)
    tps = c.global_batch_tokens / ch.times
    flops = plan.fit.throughput.flops_per_token
    tflops = flops * tps / c.gpus / 1e12
    hist = np.concatenate([state.recent, ch.times])
    csum = np.concatenate([[0.0], np.cumsum(hist)])
    hi = np.arange(len(state.recent) + 1, len(hist) + 1)
    lo = np.maximum(0, hi - ETA_WINDOW)
    eta = (c.total_steps - si) * (csum[hi] - csum[lo]) / (hi - lo)
    mem_gib = plan.fit.memory.reserved_gib(0)
    spe = c.steps_per_epoch
    columns = {
        "t": ch.t_end,
        "kind": "step",
        "phase": "train",
        "epoch": (si - 1) // spe + 1,
        "step": si,
        "loss": losses,
        "ppl": np.exp(losses),
        "lr": lr,
        "grad_norm": grads.astype(np.float32),
        "tokens_per_s": tps,
        "step_time": ch.times,
        "mfu": (tflops / c.gpu_peak_tflops).astype(np.float32),
        "tflops": tflops.astype(np.float32),
        "elapsed": ch.t_end - state.start,
        "eta": eta,
        "done": (si - 1) % spe + 1,
        "total": np.full(n, spe, dtype=np.int64),
        "epoch_progress": si / spe,
        "tokens": si * c.global_batch_tokens,
        "samples": si * c.global_batch,
        "tokens_per_s_gpu": tps / c.gpus,
        "mem_gib": np.float32(mem_gib),
        "mem_pct": np.float32(100 * mem_gib / plan.choice.gpu.torch_gib),
        "loss_scale": np.float32(1.0),
        "skipped": 0,
        "nan_iters": 0,
    }
    if post is not None:  # a post-training run's own columns (phases/postrows.py)
        post = dict(post)
        shift = post.pop("t_shift", None)
        if shift is not None:  # the line comes after the step's validation and save
            columns["t"] = ch.t_end + shift
            columns["elapsed"] = ch.t_end + shift - state.start
        columns.update(post)
    return make_table(n, columns)


def _losses(plan: RunPlan, lm: LossModel, steps: I64, rng: np.random.Generator) -> F64:
    c, profile = plan.config, plan.profile
    decimals = profile.loss_decimals
    raw = lm.losses(steps.astype(np.float64), rng, decimals)
    if not profile.window_mean_loss:  # the stack prints the step's own loss
        return raw
    return st.window_loss_means(c, steps, raw, decimals)


def _chunk(
    plan: RunPlan,
    ids: Ids,
    streams: Streams,
    tele: Telemetry,
    run: StackRun,
    lm: LossModel,
    state: TrainState,
    a: int,
    b: int,
) -> list[pa.Table]:
    c = plan.config
    rows = Rows()
    ctx = Context(plan, ids, rows, Clock(state.t), streams.lines, state.attempt)
    pst = poststats.stats(plan, np.arange(a, b + 1, dtype=np.int64))
    scale = pst.time_scale if pst is not None else None
    ch = _timing(plan, run, ctx, state, a, b, streams.times, scale)
    losses = _losses(plan, lm, ch.steps, streams.loss)
    grads = lm.grad_norms(ch.steps.astype(np.float64), streams.loss)
    lr = lr_at(c.warmup_steps, c.total_steps, c.lr_peak, c.lr_min, ch.steps)
    post = None
    if pst is not None:
        eval_s, save_s = np.zeros(len(ch.steps)), np.zeros(len(ch.steps))
        for i, (ev, sv) in ch.pause_at.items():
            eval_s[i], save_s[i] = ev, sv
        post = postrows.step_columns(
            plan, run, ctx, pst, ch.times, eval_s, save_s, losses, grads, lr, state
        )
        losses = post.get("loss", losses)
    table = _step_table(plan, ch, state, losses, grads, lr, post)
    segments = _pauses(plan, run, ctx, lm, streams, state, ch, losses)
    if pst is not None and pst.gen_share is not None:
        segments = postrows.rl_segments(segments, ch.t_end, ch.times, pst.gen_share)
    _incidents(plan, ctx, tele, ch)
    segments = faults.chunk(plan, ctx, tele, ch.steps, ch.t_end, ch.times, segments)
    samples = tele.advance(ch.end, segments)
    run.extras(ctx, ch.steps, ch.t_end, lr, ch.times, tele.reading)  # reports read the samples
    done = state.step + np.searchsorted(ch.t_end, samples.t, side="right")
    tele_rows = samples.table(done, np.minimum(done, c.total_steps - 1) // c.steps_per_epoch + 1)
    _carry(state, ch, losses)
    return [table, rows.table(), tele_rows]


def _carry(state: TrainState, ch: Chunk, losses: F64) -> None:
    state.recent = np.concatenate([state.recent, ch.times])[-ETA_WINDOW:]
    state.loss_sum += float(losses.sum())
    state.step = int(ch.steps[-1])
    state.t = ch.end


def _pauses(
    plan: RunPlan,
    run: StackRun,
    ctx: Context,
    lm: LossModel,
    streams: Streams,
    state: TrainState,
    ch: Chunk,
    losses: F64,
) -> list[Segment]:
    """Evaluations and saves: their lines and rows, and the activity segments of the chunk."""
    c = plan.config
    segments = [Segment(state.t, ch.end, "train", TRAIN, 1.0, 1.0)]
    for i, (ev, sv) in sorted(ch.pause_at.items()):
        t, step = float(ch.t_end[i]), int(ch.steps[i])
        new: list[Segment] = []
        first_save = plan.profile.saves_first(step, c.total_steps)
        if sv and first_save:
            _save(plan, run, ctx, state, t, sv, step)
            new.append(Segment(t, t + sv, "checkpoint", CKPT, 1.0, 1.0))
            t += sv
        if ev:
            _evaluate(plan, run, ctx, lm, streams, state, t, ev, step, float(losses[i]))
            new.append(Segment(t, t + ev, "eval", EVAL, 1.0, 1.0))
            t += ev
        if sv and not first_save:
            _save(plan, run, ctx, state, t, sv, step)
            new.append(Segment(t, t + sv, "checkpoint", CKPT, 1.0, 1.0))
            t += sv
        if step < c.total_steps:
            ctx.rows.phase(t, "train", "Training")
            new.append(Segment(t, ch.end, "train", TRAIN, 1.0, 1.0))
        segments = _splice(segments, new)
    return segments


def _evaluate(
    plan: RunPlan,
    run: StackRun,
    ctx: Context,
    lm: LossModel,
    streams: Streams,
    state: TrainState,
    t: float,
    seconds: float,
    step: int,
    train_loss: float,
) -> None:
    c = plan.config
    ctx.clock.t = t
    ctx.rows.phase(t, "eval", "Validation")
    run.eval_begin(ctx, step)
    ctx.rows.progress(
        t,
        seconds - 0.2,
        "eval",
        "eval",
        "Evaluating",
        c.eval_batches,
        "batches",
        min(c.eval_batches, 10),
    )
    decimals = None if plan.profile.val_float32 else plan.profile.loss_decimals
    val = lm.validation(step, train_loss, streams.evals, decimals)
    post = postrows.eval_columns(plan, run, ctx, step, val, state) if plan.choice.post else {}
    val = post.get("val_loss") or val  # DPO's eval_loss is its own; RL runs have none
    if val < state.best_val:
        state.best_val, state.patience = val, 0
    else:  # early stopping must never trigger: the counter stops one short of the limit
        state.patience = min(state.patience + 1, max(0, c.patience_limit - 1))
    tokens = c.eval_batches * c.micro_batch * c.seq_len
    mem = plan.fit.memory.reserved_gib(0)
    columns: dict[str, Any] = {
        "epoch": (step - 1) // c.steps_per_epoch + 1,
        "step": step,
        "loss": train_loss,
        "ppl": math.exp(train_loss),
        "val_loss": val,
        "val_ppl": math.exp(val),
        "patience": state.patience,
        "patience_limit": c.patience_limit,
        "elapsed": seconds,
        "epoch_progress": step / c.steps_per_epoch,
        "samples_per_s": c.eval_batches * c.micro_batch * c.dp / seconds,
        "steps_per_s": c.eval_batches / seconds,
        "tokens_per_s_gpu": tokens / seconds / (c.tp * c.pp),
        "mem_gib": mem,
        "mem_pct": 100 * mem / plan.choice.gpu.torch_gib,
    }
    columns.update(post)  # a post-training run's own (phases/postrows.py)
    ctx.rows.add(t + seconds, "eval", "eval", **columns)


def _save(
    plan: RunPlan,
    run: StackRun,
    ctx: Context,
    state: TrainState,
    t: float,
    seconds: float,
    step: int,
) -> None:
    c = plan.config
    last = step == c.total_steps
    ctx.clock.t = t
    ctx.rows.phase(t, "checkpoint", "Checkpoint")
    state.kept.append(step)
    dropped = state.kept.pop(0) if len(state.kept) > c.save_total_limit else None
    save_t = ctx.clock.t
    model = plan.choice.model
    model_only = plan.profile.model_only_save(step, c.total_steps)
    sharding = plan.profile.sharding(plan.fit.layout)
    size = export_bytes(model) if model_only else checkpoint_bytes(model, sharding)
    faults.slow_save(plan, ctx, step, save_t, seconds)
    ctx.rows.progress(
        save_t,
        seconds * 0.95,
        "checkpoint",
        "checkpoint",
        "Saving checkpoint",
        size,
        "B",
        int(min(10, max(2, seconds / 0.5))),
    )
    run.save(ctx, step, seconds * 0.95, last, dropped)
    ctx.rows.add(
        t + seconds,
        "checkpoint",
        "checkpoint",
        step=step,
        path=plan.profile.checkpoint_name(step),
        size_bytes=size,
        elapsed=seconds,
    )
    ctx.clock.t = t + seconds
    run.saved(ctx, step, seconds)
    state.saved[step] = (t + seconds, state.best_val, state.patience)


def _splice(segments: list[Segment], new: list[Segment]) -> list[Segment]:
    """Replace the tail of the (last, open-ended) segment by `new`, which starts inside it."""
    if not new:
        return segments
    last = segments[-1]
    head = Segment(last.t0, new[0].t0, last.phase, last.activity, last.mem0, last.mem1)
    out = [*segments[:-1], head, *new]
    if new[-1].phase != "train":  # training does not resume: close the chunk as it ends
        out.append(Segment(new[-1].t1, new[-1].t1, "train", TRAIN, last.mem0, last.mem1))
    return out


def _incidents(plan: RunPlan, ctx: Context, tele: Telemetry, ch: Chunk) -> None:
    """Episodes inside the chunk: placed in time for the telemetry, and an `incident` row when
    the culprit starts holding the job back."""
    first, last = int(ch.steps[0]), int(ch.steps[-1])

    def starts(step: int) -> float | None:
        i = step - first
        return float(ch.t_end[i] - ch.times[i]) if first <= step <= last else None

    for e in plan.episodes:
        if e.last_step < first or e.first_step > last:
            continue
        end = float(ch.t_end[e.last_step - first]) if e.last_step <= last else None
        slow = starts(e.slow_from)
        tele.mark(e, start=starts(e.first_step), slow=slow, end=end)
        if slow is None:
            continue
        what = "Thermal throttling" if e.kind == "thermal" else "Straggler"
        ctx.rows.add(
            slow,
            "incident",
            "train",
            op=e.kind,
            step=e.slow_from,
            rank=e.gpu,
            text=f"{what}: {ctx.gpu_name(e.gpu)}",
            elapsed=end - slow if end is not None else None,
        )
