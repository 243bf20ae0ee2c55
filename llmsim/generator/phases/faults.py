"""Faults the job rides through, placed in one chunk of steps: the `incident` row of each loss
spike and transient fault, and what the telemetry of those seconds shows (every GPU waiting for a
batch, a GPU flagged for ECC errors): no line of a monitor of llmsim's own (issue 21), the GPU
monitor shows it.

The step times already hold the stall (the train phase adds it as a pause inside its step) and the
loss and gradient norm the spike (plan/loss.py); a stalled checkpoint write is longer by the time
the file system client took to reconnect.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from llmsim.generator.phases.steps import window_ids
from llmsim.generator.phases.telemetry import WAIT, Outage, Segment, Telemetry
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.stacks.context import Context

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
OST_COUNT: Final = 96  # object storage targets of the shared file system


def chunk(
    plan: RunPlan,
    ctx: Context,
    tele: Telemetry,
    steps: I64,
    t_end: F64,
    times: F64,
    segments: list[Segment],
) -> list[Segment]:
    """Rows and telemetry of the spikes and faults inside steps[0]..steps[-1]."""
    lo, hi = int(steps[0]), int(steps[-1])
    for sp in plan.loss.spikes:
        if lo <= sp.step <= hi:
            i = int(np.searchsorted(steps, sp.step))
            ctx.rows.add(
                float(t_end[i]),
                "incident",
                "train",
                op="loss_spike",
                step=sp.step,
                text=f"Loss spike at step {sp.step}",
                elapsed=sp.recover * float(np.median(times)),
            )
    for fault in plan.incidents.transients:
        if not lo <= fault.step <= hi or fault.kind == "checkpoint_retry":
            continue
        i = int(np.searchsorted(steps, fault.step))
        if fault.kind == "dataloader_stall":
            segments = _stall(plan, ctx, steps, t_end, times, i, fault.gpu, fault.seconds, segments)
        else:
            _ecc(ctx, tele, float(t_end[i]), fault.step, fault.gpu, fault.count)
    return segments


def _stall(
    plan: RunPlan,
    ctx: Context,
    steps: I64,
    t_end: F64,
    times: F64,
    i: int,
    gpu: int,
    seconds: float,
    segments: list[Segment],
) -> list[Segment]:
    """Every GPU idles while one rank's loader fetches the batch (inside the step's log window,
    whose mean step time carries the stall)."""
    window = window_ids(steps, plan.config.log_interval)
    j = int(np.flatnonzero(window == window[i])[0])
    start = float(t_end[j] - times[j])
    end = float(t_end[i])
    t0 = max(start, end - seconds)
    ctx.rows.add(
        t0,
        "incident",
        "train",
        op="dataloader_stall",
        step=int(steps[i]),
        rank=gpu,
        text=f"Dataloader stall: rank {gpu} waited {seconds:.0f} s for a batch",
        elapsed=end - t0,
    )
    return overlay(segments, Segment(t0, end, "train", WAIT, 1.0, 1.0))


def _ecc(ctx: Context, tele: Telemetry, t: float, step: int, gpu: int, count: int) -> None:
    """Correctable memory errors counted on one GPU: the grid and the monitor flag it."""
    name = ctx.gpu_name(gpu)
    text = f"ECC errors: {name} (volatile correctable 0 -> {count})"
    ctx.rows.add(t, "incident", "train", op="ecc", step=step, rank=gpu, text=text)
    tele.add_outage(Outage(gpu, t, math.inf, "ecc"))


def slow_save(plan: RunPlan, ctx: Context, step: int, t0: float, seconds: float) -> None:
    """A checkpoint write held up by the file system: the client loses an OST, waits for its
    recovery and resends (the save is longer by that; the incident row says which OST)."""
    fault = next(
        (f for f in plan.incidents.transients if f.kind == "checkpoint_retry" and f.step == step),
        None,
    )
    if fault is None:
        return
    rng = ctx.rng
    ost = f"lustre-OST{int(rng.integers(0, OST_COUNT)):04x}"
    lost_at = t0 + (seconds - fault.seconds) * float(rng.uniform(0.2, 0.6))
    ctx.rows.add(
        lost_at,
        "incident",
        "checkpoint",
        op="checkpoint_retry",
        step=step,
        text=f"Checkpoint write stalled: {ost} reconnecting",
        elapsed=fault.seconds,
    )


def overlay(segments: list[Segment], new: Segment) -> list[Segment]:
    """`segments` (sorted, contiguous) with `new` laid over the time it covers."""
    out: list[Segment] = []
    for s in segments:
        if s.t1 <= new.t0 or s.t0 >= new.t1:
            out.append(s)
            continue
        if s.t0 < new.t0:
            out.append(Segment(s.t0, new.t0, s.phase, s.activity, s.mem0, s.mem1))
        if not out or out[-1] is not new:
            out.append(new)
        if s.t1 > new.t1:
            out.append(Segment(new.t1, s.t1, s.phase, s.activity, s.mem0, s.mem1))
    return out
