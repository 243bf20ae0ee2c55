"""Training phase, chunk by chunk: steps, evals, checkpoints, telemetry, warnings, NCCL timings."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from llmsim.generator.loss import LOSS_DECIMALS, VAL_MIN, LossModel
from llmsim.generator.nccl import NcclNames, comm_plan, grad_op_type
from llmsim.generator.rows import Rows, merge
from llmsim.generator.schedule import lr_at
from llmsim.generator.shim import extra_of
from llmsim.generator.telemetry import (
    CKPT,
    EVAL,
    TRAIN,
    Episode,
    Samples,
    Segment,
    Telemetry,
    budget_mib,
    gpu_name,
)
from llmsim.generator.throughput import rates
from llmsim.trace.config import RunConfig
from llmsim.trace.writer import make_table

F64 = npt.NDArray[np.float64]
ETA_WINDOW = 50
SPIKE_BASELINE = 10  # steps a loss spike is compared with
CKPT_TAIL = 0.3  # seconds after the save: config files, rotation
# Mean simulated seconds between episodes of each kind during training.
EVERY = {"stall": 1200.0, "retry": 2400.0, "hot": 1800.0, "slow": 1800.0, "mem": 2400.0}
MAX_WINDOW_STEPS = 20_000
TELEMETRY_VALUES_PER_WINDOW = 1_500_000


@dataclass
class TrainState:
    """What carries from one chunk of steps to the next."""

    start: float  # t when training started
    t: float  # t at the end of the last chunk
    step: int = 0  # last completed step
    recent: F64 = field(default_factory=lambda: np.zeros(0))  # last step times (for the ETA)
    recent_loss: F64 = field(default_factory=lambda: np.zeros(0))
    loss_sum: float = 0.0
    best_val: float = math.inf
    patience: int = 0
    checkpoints: list[int] = field(default_factory=list)


@dataclass
class Streams:
    """The random sub-streams the training phase draws from (each its own sequence)."""

    loss: np.random.Generator
    rates: np.random.Generator
    events: np.random.Generator
    evals: np.random.Generator


def window_steps(config: RunConfig) -> int:
    """Steps per chunk: bounded so a chunk's telemetry stays a few MB."""
    st = float(extra_of(config).get("step_time_mean", 1.0))
    per = TELEMETRY_VALUES_PER_WINDOW / config.gpus * config.telemetry_interval / st
    return int(min(MAX_WINDOW_STEPS, max(200, per)))


def chunks(
    config: RunConfig,
    state: TrainState,
    streams: Streams,
    tele: Telemetry,
    nccl: NcclNames,
) -> Iterator[pa.Table]:
    """Yield the training phase as time-sorted tables, one per chunk of steps."""
    lm = LossModel(config, streams.loss)
    first = Rows()
    first.phase(state.t, "train", "Training")
    pending: list[pa.Table] = [first.table()]
    w = window_steps(config)
    while state.step < config.total_steps:
        a = state.step + 1
        b = min(config.total_steps, a + w - 1)
        yield merge([*pending, *_chunk(config, state, streams, tele, nccl, lm, a, b)])
        pending = []


def _chunk(
    c: RunConfig,
    state: TrainState,
    rs: Streams,
    tele: Telemetry,
    nccl: NcclNames,
    lm: LossModel,
    a: int,
    b: int,
) -> list[pa.Table]:
    steps = np.arange(a, b + 1, dtype=np.float64)
    n = len(steps)
    ev = rs.events
    mean_st = float(extra_of(c).get("step_time_mean", 1.0))
    span = n * mean_st
    stall_i = _pick(ev, n, span / EVERY["stall"])
    retry_i = _pick(ev, n, span / EVERY["retry"])
    slow = {int(i): float(ev.uniform(0.12, 0.3)) for i in stall_i}
    slow.update({int(i): float(ev.uniform(0.08, 0.2)) for i in retry_i})
    rt = rates(c, n, rs.rates, slow)
    loss = lm.losses(steps, rs.loss)
    gn = lm.grad_norms(steps, rs.loss)
    lr = lr_at(c, steps)
    spe = c.steps_per_epoch
    si = steps.astype(np.int64)
    is_eval = (si % c.eval_interval == 0) | (si % spe == 0)
    is_ckpt = (si % c.checkpoint_interval == 0) & (si != c.total_steps)
    pause_i = np.flatnonzero(is_eval | is_ckpt)
    # pause durations (Python loop per eval/checkpoint)
    eval_dur = {int(i): _eval_seconds(c, ev) for i in np.flatnonzero(is_eval)}
    ckpt_dur = {int(i): _ckpt_seconds(c, ev) for i in np.flatnonzero(is_ckpt)}
    pause = np.zeros(n)
    for i in pause_i:
        pause[i] = eval_dur.get(int(i), 0.0) + ckpt_dur.get(int(i), 0.0)
    before = np.concatenate([[0.0], np.cumsum(pause)[:-1]])
    t_end = state.t + np.cumsum(rt.step_time) + before
    chunk_end = float(t_end[-1] + pause[-1])
    # ETA from the mean of the last 50 step times (carried across chunks)
    hist = np.concatenate([state.recent, rt.step_time])
    csum = np.concatenate([[0.0], np.cumsum(hist)])
    hi = np.arange(len(state.recent) + 1, len(hist) + 1)
    lo = np.maximum(0, hi - ETA_WINDOW)
    mean_recent = (csum[hi] - csum[lo]) / (hi - lo)
    eta = (c.total_steps - steps) * mean_recent
    step_table = make_table(
        n,
        {
            "t": t_end,
            "kind": "step",
            "phase": "train",
            "epoch": (si - 1) // spe + 1,
            "step": si,
            "loss": loss,
            "ppl": np.exp(loss),
            "lr": lr,
            "grad_norm": gn.astype(np.float32),
            "tokens_per_s": rt.tokens_per_s,
            "step_time": rt.step_time,
            "mfu": rt.mfu.astype(np.float32),
            "elapsed": t_end - state.start,
            "eta": eta,
            "done": (si - 1) % spe + 1,
            "total": np.full(n, spe, dtype=np.int64),
            "epoch_progress": si / spe,
            "tokens": si * c.global_batch_tokens,
            "samples": si * c.global_batch,
            "tokens_per_s_gpu": rt.tokens_per_s / c.gpus,
            "tflops": (rt.mfu * c.gpu_peak_tflops).astype(np.float32),
            "mem_gib": np.float32(budget_mib(c) / 1024),
            "mem_pct": np.float32(100 * budget_mib(c) / c.gpu_memory_mib),
            "loss_scale": np.float32(1.0),
            "skipped": 0,
            "nan_iters": 0,
        },
    )
    # warnings attached to steps
    notes = Rows()
    loss_hist = np.concatenate([state.recent_loss, loss])
    off = len(state.recent_loss)
    for i in stall_i:
        rank = int(ev.integers(0, c.gpus))
        notes.log(
            t_end[i],
            "train",
            "WARNING",
            "data",
            f"Dataloader stall at step {si[i]}: rank {rank} waited {rt.extra[i]:.2f} s for the "
            f"next batch (step time {rt.step_time[i]:.2f} s, recent mean {mean_recent[i]:.2f} s)",
        )
    op_type = grad_op_type(c)
    plan = comm_plan(c)
    ops = plan.ops_per_step(c.grad_accum) if plan is not None else 4
    for i in retry_i:
        rank = int(ev.integers(0, c.gpus))
        # SeqNum counts the collectives of the process group: one of this step's last ones
        seq = int(si[i]) * ops - int(ev.integers(0, min(ops, 4)))
        notes.log(
            t_end[i] - rt.extra[i],
            "train",
            "WARNING",
            "nccl",
            f"[rank{rank}]: collective {op_type} (SeqNum={seq}) on {gpu_name(c, rank)} "
            "exceeded the soft timeout; NCCL is retrying the operation",
        )
        notes.log(
            t_end[i],
            "train",
            "INFO",
            "nccl",
            f"[rank{rank}]: collective {op_type} (SeqNum={seq}) completed after retry "
            f"(+{rt.extra[i]:.2f} s, step {si[i]} took {rt.step_time[i]:.2f} s)",
        )
    for sp in lm.spikes:
        if a <= sp.step <= b:
            k0 = sp.step - a
            notes.log(
                t_end[k0],
                "train",
                "WARNING",
                "trainer",
                f"Gradient norm {gn[k0]:.2f} at step {sp.step} exceeds max_grad_norm "
                f"{c.grad_clip:g}; gradients clipped",
            )
        if a <= sp.step + 1 <= b:
            k1 = sp.step + 1 - a
            j = off + k1
            prev = loss_hist[max(0, j - SPIKE_BASELINE) : j]
            notes.log(
                t_end[k1],
                "train",
                "WARNING",
                "trainer",
                f"Loss spike at step {sp.step + 1}: {loss[k1]:.4f} vs {prev.mean():.4f} mean "
                f"of the previous {len(prev)} steps (+{loss[k1] - prev.mean():.2f}); "
                "recovering",
            )
    k = int(extra_of(c).get("nccl_log_interval", 0))
    if k and plan is not None:
        for i in np.flatnonzero(si % k == 0):
            t0 = t_end[i] - rt.step_time[i]
            for frac, text in nccl.step_lines(plan, int(si[i]), ev):
                notes.log(t0 + frac * rt.step_time[i], "train", "INFO", "nccl", text)
    # evals and checkpoints
    pauses = Rows()
    budget = budget_mib(c)
    segments = [Segment(state.t, chunk_end, "train", TRAIN, budget, budget)]
    for i in pause_i:
        t = float(t_end[i])
        s = int(si[i])
        segs: list[Segment] = []
        if int(i) in eval_dur:
            d = eval_dur[int(i)]
            _eval_rows(c, pauses, lm, rs.evals, state, t, d, s, float(loss[i]))
            segs.append(Segment(t, t + d, "eval", EVAL, budget, budget))
            t += d
        if int(i) in ckpt_dur:
            d = ckpt_dur[int(i)]
            _ckpt_rows(c, pauses, state, t, d, s)
            segs.append(Segment(t, t + d, "checkpoint", CKPT, budget, budget))
            t += d
        if s < c.total_steps:
            pauses.phase(t, "train", "Training")
            segs.append(Segment(t, chunk_end, "train", TRAIN, budget, budget))
        segments = _splice(segments, segs)
    # telemetry with episodes planned in this chunk
    _plan_episodes(c, tele, ev, state.t, chunk_end)
    samples = tele.advance(chunk_end, segments)
    tele_rows = _telemetry_table(c, samples, t_end, state.step)
    tele_logs = Rows()
    for line in samples.logs:
        tele_logs.log(line.t, line.phase, line.level, line.source, line.text)
    # carry state
    state.recent = hist[-ETA_WINDOW:]
    state.recent_loss = loss_hist[-ETA_WINDOW:]
    state.loss_sum += float(loss.sum())
    state.step = b
    state.t = chunk_end
    return [step_table, notes.table(), pauses.table(), tele_rows, tele_logs.table()]


def _pick(rng: np.random.Generator, n: int, expected: float) -> npt.NDArray[np.int64]:
    """Indices of rare events in a chunk of n steps (never the first 5 steps of the run)."""
    k = min(int(rng.poisson(expected)), n)
    idx = np.unique(rng.integers(0, n, k)) if k else np.zeros(0, dtype=np.int64)
    return idx.astype(np.int64)


def _eval_seconds(c: RunConfig, rng: np.random.Generator) -> float:
    per_batch = float(extra_of(c).get("eval_batch_seconds", 0.1))
    return c.eval_batches * per_batch * float(rng.uniform(0.97, 1.05)) + 0.4


def _ckpt_seconds(c: RunConfig, rng: np.random.Generator) -> float:
    size = float(extra_of(c).get("checkpoint_bytes", 14 * c.params))
    gbs = float(extra_of(c).get("checkpoint_gbs", 30.0))
    return size / (gbs * 1e9) * float(rng.uniform(0.92, 1.08)) + CKPT_TAIL


def _eval_rows(
    c: RunConfig,
    r: Rows,
    lm: LossModel,
    rng: np.random.Generator,
    state: TrainState,
    t: float,
    d: float,
    step: int,
    train_loss: float,
) -> None:
    spe = c.steps_per_epoch
    epoch = (step - 1) // spe + 1
    r.phase(t, "eval", "Validation")
    bs = c.micro_batch * 2
    r.log(t, "eval", "INFO", "trainer", "***** Running Evaluation *****")
    r.log(t, "eval", "INFO", "trainer", f"  Num examples = {c.eval_batches * bs * c.dp}")
    r.log(t, "eval", "INFO", "trainer", f"  Batch size = {bs}")
    r.progress(
        t, d - 0.2, "eval", "eval", "Evaluating", c.eval_batches, "batches", min(c.eval_batches, 10)
    )
    val = lm.validation(step, train_loss, rng)
    if val < state.best_val:
        state.best_val, state.patience = val, 0
    elif state.patience + 1 >= c.patience_limit:
        # early stopping must never trigger: this evaluation comes out a hair better (while
        # staying above the train loss by the usual margin when there is room for it)
        room = min(0.003, state.best_val - VAL_MIN * train_loss)
        val = round(state.best_val - float(rng.uniform(0.0005, max(0.0006, room))), LOSS_DECIMALS)
        state.best_val, state.patience = val, 0
    else:
        state.patience += 1
    r.add(
        t + d,
        "eval",
        "eval",
        epoch=epoch,
        step=step,
        loss=train_loss,
        ppl=math.exp(train_loss),
        val_loss=val,
        val_ppl=math.exp(val),
        patience=state.patience,
        patience_limit=c.patience_limit,
        elapsed=d,
        epoch_progress=step / spe,
        samples_per_s=c.eval_batches * bs * c.dp / d,
        steps_per_s=c.eval_batches / d,
        tokens_per_s_gpu=c.eval_batches * bs * c.seq_len / d / c.gpus,
        mem_gib=budget_mib(c) / 1024,
        mem_pct=100 * budget_mib(c) / c.gpu_memory_mib,
    )


def _ckpt_rows(c: RunConfig, r: Rows, state: TrainState, t: float, d: float, step: int) -> None:
    name = f"checkpoint-{step}"
    where = f"{c.output_dir}/{name}"
    size = int(extra_of(c).get("checkpoint_bytes", 14 * c.params))
    r.phase(t, "checkpoint", "Checkpoint")
    r.log(t, "checkpoint", "INFO", "checkpoint", f"Saving model checkpoint to {where}")
    save = d - CKPT_TAIL
    r.progress(
        t,
        save,
        "checkpoint",
        "checkpoint",
        f"Saving {name}",
        size,
        "B",
        int(min(10, max(2, save / 0.5))),
    )
    end = t + save
    r.log(end, "checkpoint", "INFO", "checkpoint", f"Configuration saved in {where}/config.json")
    r.log(
        end,
        "checkpoint",
        "INFO",
        "checkpoint",
        f"Saved model, optimizer and scheduler state to {where} ({size / 1e9:,.1f} GB in "
        f"{save:.1f} s, {size / 1e9 / save:.1f} GB/s)",
    )
    r.add(end, "checkpoint", "checkpoint", step=step, path=name, size_bytes=size, elapsed=save)
    state.checkpoints.append(step)
    while len(state.checkpoints) > c.save_total_limit:
        old = state.checkpoints.pop(0)
        r.log(
            end + 0.5 * CKPT_TAIL,
            "checkpoint",
            "INFO",
            "checkpoint",
            f"Deleting older checkpoint [{c.output_dir}/checkpoint-{old}] due to "
            "args.save_total_limit",
        )


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


def _plan_episodes(
    c: RunConfig, tele: Telemetry, rng: np.random.Generator, t0: float, t1: float
) -> None:
    span = t1 - t0
    if span <= 30.0:
        return
    for kind in ("hot", "slow", "mem"):
        for _ in range(int(rng.poisson(span / EVERY[kind]))):
            start = float(rng.uniform(t0, t1 - 20.0))
            gpu = int(rng.integers(0, c.gpus))
            if kind == "hot":
                peak = float(rng.uniform(81.5, 90.0))
                dur = float(rng.uniform(60.0, 150.0))
                tele.add(Episode("hot", gpu, start, start + dur, peak - tele.typical_temp(gpu)))
            elif kind == "slow":
                dur = c.telemetry_interval * float(rng.uniform(1.0, 2.5))
                tele.add(Episode("slow", gpu, start, start + dur, float(rng.uniform(36.0, 48.0))))
            else:
                room = c.gpu_memory_mib - budget_mib(c) * 1.006 - 96.0
                size = min(float(rng.uniform(0.004, 0.009)) * c.gpu_memory_mib, room)
                if size > 100:
                    dur = float(rng.uniform(8.0, 30.0))
                    tele.add(Episode("mem", gpu, start, start + dur, size))


def _telemetry_table(c: RunConfig, s: Samples, t_end: F64, done_before: int) -> pa.Table:
    n = len(s.t)
    if n == 0:
        return make_table(0, {})
    completed = done_before + np.searchsorted(t_end, s.t, side="right")
    current = np.minimum(completed, c.total_steps - 1)
    return s.table(completed, current // c.steps_per_epoch + 1)
