"""A rank failure and the relaunch after it, from the lost step to the first step redone.

Timeline (t = seconds of the run):
  t_start   step `failure.step` starts (the previous one, its evaluation and save are done)
  t_fail    the culprit stops inside it: its GPU falls off the bus, or its rank hangs;
            the others spin in the collective it never joins (GPU busy, power low)
  t_wd      `timeout_s` later every other rank's NCCL watchdog fires and aborts its process
  t_report  the launcher reports (torchrun, srun or the deepspeed launcher)
  t_launch  `down_s` later the job runs again: torchrun restarts its workers, or the scheduler
            requeues the job (on a spare node when a GPU was lost)
  t_resume  the new processes have loaded the checkpoint of `failure.checkpoint`: training
            goes on from the step after it

The `rank_failure` incident opens at t_fail (elapsed: the outage until t_launch); the `restart`
incident opens at t_launch (step: the checkpoint's, path: the replacement host, elapsed: the
time lost since that checkpoint was written).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

import numpy as np
import pyarrow as pa

from llmsim.generator.phases import init as phase_init
from llmsim.generator.phases.state import TrainState
from llmsim.generator.phases.telemetry import HANG, IDLE, TRAIN, Outage, Segment, Telemetry
from llmsim.generator.plan.incidents import Failure
from llmsim.generator.plan.runplan import RunPlan
from llmsim.generator.rows import Clock, Rows
from llmsim.generator.stacks.common.run import StackRun
from llmsim.generator.stacks.context import Attempt, Context, Ids
from llmsim.trace.writer import make_table

PID_STRIDE: Final = 4_000  # pids a relaunch's processes are past the previous ones


def events(
    plan: RunPlan,
    ids: Ids,
    run: StackRun,
    tele: Telemetry,
    state: TrainState,
    failure: Failure,
    rng: np.random.Generator,
) -> list[pa.Table]:
    """Rows of the failure, the launcher's report and the relaunch; `state` moves to the
    checkpoint's step and the time training resumes."""
    rows = Rows()
    t_start = state.t
    t_fail = t_start + failure.into_step * plan.fit.throughput.step_s
    ctx = Context(plan, ids, rows, Clock(t_fail), rng, state.attempt)
    t_abort = run.crash(ctx, failure, t_fail + failure.timeout_s, failure.step - state.first)
    t_report = run.report(ctx, failure)
    attempt = _next_attempt(ctx, failure, t_report + failure.down_s)
    node = plan.config.node_of(failure.gpu)
    hosts = attempt.hosts or plan.config.hostnames
    new_host = hosts[node] if failure.replacement is not None else None
    init = phase_init.events(plan, ids, run, rng, attempt)
    saved_at, best, patience = state.saved.get(failure.checkpoint, (state.start, np.inf, 0))
    lost = init.end - saved_at
    _incidents(rows, failure, t_fail, attempt.started, new_host, lost, ctx)
    rows.phase(init.end, "train", "Training")
    tables = [rows.table(), init.rows.table()]
    tables.append(_telemetry(plan, tele, failure, t_start, t_fail, t_abort, attempt, init))
    state.step, state.t, state.first = failure.checkpoint, init.end, failure.checkpoint + 1
    state.attempt, state.attempt_start = attempt, init.end
    state.loss_sum = 0.0
    state.best_val, state.patience = float(best), int(patience)
    state.kept = [k for k in state.kept if k <= failure.checkpoint]
    return tables


def _next_attempt(ctx: Context, failure: Failure, started: float) -> Attempt:
    """The relaunch: a replacement node for a lost GPU, new processes, torchrun's count."""
    now = ctx.attempt
    hosts = list(ctx.hosts)
    if failure.replacement is not None:
        node = ctx.config.node_of(failure.gpu)
        hosts[node] = _spare(ctx, failure.replacement)
    elastic = failure.relaunch == "elastic"
    return replace(
        now,
        number=now.number + 1,
        resume_step=failure.checkpoint,
        hosts=tuple(hosts),
        elastic=elastic,
        agent_restarts=now.agent_restarts + 1 if elastic else 0,
        started=started,
        pid_shift=now.pid_shift + PID_STRIDE * (1 + int(ctx.rng.integers(0, 5))),
        agent_shift=now.agent_shift if elastic else now.agent_shift + PID_STRIDE * 3,
    )


def _spare(ctx: Context, n: int) -> str:
    """A spare node of the same row: the last host's name with a number past the job's nodes."""
    last = ctx.config.hostnames[-1]
    prefix, _, digits = last.rpartition("-")
    return f"{prefix}-{int(digits) + n:0{len(digits)}d}"


def _incidents(
    rows: Rows,
    failure: Failure,
    t_fail: float,
    t_launch: float,
    new_host: str | None,
    lost: float,
    ctx: Context,
) -> None:
    what = "GPU fell off the bus" if failure.cause == "xid79" else "rank hung"
    where = ctx.gpu_name(failure.gpu)
    rows.add(
        t_fail,
        "incident",
        "train",
        op="rank_failure",
        step=failure.step,
        rank=failure.gpu,
        text=f"Rank {failure.gpu} lost ({what}): {where}",
        elapsed=t_launch - t_fail,
    )
    rows.add(
        t_launch,
        "incident",
        "init",
        op="restart",
        step=failure.checkpoint,
        rank=failure.gpu,
        text="Restart after rank failure",
        path=new_host,
        elapsed=lost,
    )


def _telemetry(
    plan: RunPlan,
    tele: Telemetry,
    failure: Failure,
    t_start: float,
    t_fail: float,
    t_abort: float,
    attempt: Attempt,
    init: phase_init.InitResult,
) -> pa.Table:
    """Samples from the failing step to the resumed training: the spin, the silence, the
    relaunch; the lost GPU reads nothing until its node is replaced."""
    segments = [
        Segment(t_start, t_fail, "train", TRAIN, 1.0, 1.0),
        Segment(t_fail, t_abort, "train", HANG, 1.0, 1.0),
        Segment(t_abort, attempt.started, "train", IDLE, 0.0, 0.0),
        *init.segments,
    ]
    kind = "lost" if failure.cause == "xid79" else "stuck"
    tele.add_outage(
        Outage(failure.gpu, t_fail, attempt.started if kind == "lost" else t_abort, kind)
    )
    samples = tele.advance(init.end, segments)
    if len(samples.t) == 0:
        return make_table(0, {})
    step = np.where(samples.t < attempt.started, failure.step - 1, failure.checkpoint)
    epoch = np.minimum(step, plan.config.total_steps - 1) // plan.config.steps_per_epoch + 1
    return samples.table(step, epoch)
